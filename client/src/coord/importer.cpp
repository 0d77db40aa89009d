#include "satchel/coord/importer.h"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <set>

#include "coord/hello_import.h"
#include "satchel/client/retraction.h"
#include "satchel/client/trust_store.h"
#include "satchel/coord/body_store.h"
#include "satchel/crypto/bundle.h"
#include "satchel/crypto/sha256.h"
#include "satchel/form/validate.h"

namespace satchel::coord {

namespace {

using client::Transaction;

// The manifest is read into memory: bounded so that a hostile package cannot exhaust it.
constexpr uint32_t kMaxManifestBytes = 1u << 20;
// Attachments one record may list (the form allows 256 per question).
constexpr size_t kMaxAttachments = 4096;
// The deepest answers a form allows are far shallower (schema/form-format.md, "Limits").
constexpr size_t kMaxAnswerDepth = 16;

bool is_lower_hex(std::string_view s, size_t len) {
  if (s.size() != len) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

ByteView view(const BundleId& id) {
  return ByteView(id.data(), id.size());
}
ByteView view(const Key32& k) {
  return ByteView(k.data(), k.size());
}

const char* content_type_name(ContentType t) {
  switch (t) {
    case ContentType::kRecord:
      return "record";
    case ContentType::kAttachment:
      return "attachment";
    case ContentType::kDeviceHello:
      return "device hello";
    case ContentType::kRetraction:
      return "retraction";
    case ContentType::kCover:
      return "cover";
    case ContentType::kBackup:
      return "coordinator backup";
  }
  return "unknown";
}

// `text` for a reason shown on a terminal: a form id as is when it has the form id's shape
// ([A-Za-z0-9._-]{1,64}), else a neutral placeholder, so a hostile id carries no escape codes.
std::string shown_form_id(std::string_view text) {
  const bool plain =
      !text.empty() && text.size() <= 64 && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      });
  return plain ? std::string(text) : std::string("(an invalid form id)");
}

// An answer path for a reason shown on a terminal ("household[2].age"), or a placeholder.
std::string shown_path(std::string_view text) {
  const bool plain = text.size() <= 200 && std::all_of(text.begin(), text.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                              c == '-' || c == '[' || c == ']';
                     });
  return plain ? std::string(text) : std::string("(an invalid path)");
}

// True if `v` has arrays or objects nested more than `limit` levels deep; iterative, so a
// hostile value nested 100,000 levels deep is measured without recursion (copying, dumping or
// validating it would recurse once per level).
bool deeper_than(const nlohmann::json& v, size_t limit) {
  std::vector<std::pair<const nlohmann::json*, size_t>> stack = {{&v, 1}};
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    if (!node->is_structured()) continue;
    if (depth > limit) return true;
    for (const auto& child : *node) stack.emplace_back(&child, depth + 1);
  }
  return false;
}

bool is_question_id(std::string_view s) {
  if (s.empty() || s.size() > 64 || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Why a record package cannot be imported, from its manifest text (m bytes) and its length, or
// nullopt. On success `manifest` is rebuilt from the checked fields only (so no field the spec
// does not define, nested however deep, is ever copied or dumped); its answers are checked
// against the form later, in file_record.
std::optional<std::string> check_manifest(const std::string& text, uint32_t m, uint64_t body_size,
                                          const BundleMetadata& meta, nlohmann::json& manifest,
                                          std::string& record_id) {
  // nlohmann's parser keeps its own stack (no recursion); nothing below recurses into a value
  // before validate_answers has bounded its depth.
  const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return "record manifest is not a JSON object";
  auto rid = parsed.find("record_id");
  if (rid == parsed.end() || !rid->is_string() || !is_lower_hex(rid->get<std::string>(), 32))
    return "record manifest: record_id is not 32 lower-case hex digits";
  record_id = rid->get<std::string>();
  auto form = parsed.find("form");
  if (form == parsed.end() || !form->is_object() || !form->contains("id") ||
      !form->contains("version") || !form->contains("sha256") || !(*form)["id"].is_string() ||
      !(*form)["version"].is_number_unsigned() || !(*form)["sha256"].is_string())
    return "record manifest: form id, version or sha256 missing";
  if ((*form)["id"].get<std::string>() != meta.form_id ||
      (*form)["version"].get<uint64_t>() != meta.form_version ||
      (*form)["sha256"].get<std::string>() != to_hex(ByteView(meta.form_hash.data(), 32)))
    return "record manifest names another form than the bundle (" + shown_form_id(meta.form_id) +
           " version " + std::to_string(meta.form_version) + ")";
  auto answers = parsed.find("answers");
  if (answers == parsed.end() || !answers->is_object())
    return "record manifest: answers is not an object";
  // Answers nest at most: document, three levels of repeat array and instance, a value.
  if (deeper_than(*answers, kMaxAnswerDepth))
    return "record manifest: answers nest deeper than " + std::to_string(kMaxAnswerDepth) +
           " levels";
  for (const char* t : {"created_at", "finalized_at"})
    if (parsed.contains(t) && !parsed[t].is_number_integer())
      return std::string("record manifest: ") + t + " is not an integer";
  manifest = nlohmann::json::object();
  manifest["record_id"] = record_id;
  manifest["form"] = {
      {"id", meta.form_id}, {"version", meta.form_version}, {"sha256", (*form)["sha256"]}};
  for (const char* t : {"created_at", "finalized_at"})
    if (parsed.contains(t)) manifest[t] = parsed[t];
  if (parsed.contains("retraction")) {
    if (!parsed["retraction"].is_string() ||
        !is_lower_hex(parsed["retraction"].get<std::string>(), 64))
      return "record manifest: retraction is not 64 lower-case hex digits";
    manifest["retraction"] = parsed["retraction"];
  }
  manifest["answers"] = *answers;  // a copy of a tree whose depth is checked before any dump
  uint64_t total = 0;
  std::set<std::string> ids;
  nlohmann::json attachments = nlohmann::json::array();
  if (parsed.contains("attachments")) {
    const auto& atts = parsed["attachments"];
    if (!atts.is_array()) return "record manifest: attachments is not a list";
    if (atts.size() > kMaxAttachments)
      return "record manifest lists " + std::to_string(atts.size()) + " attachments (at most " +
             std::to_string(kMaxAttachments) + ")";
    for (const auto& a : atts) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_string() ||
          !is_lower_hex(a["id"].get<std::string>(), 16))
        return "record manifest: an attachment id is not 16 lower-case hex digits";
      const std::string id = a["id"].get<std::string>();
      if (!a.contains("size") || !a["size"].is_number_unsigned())
        return "record manifest: attachment " + id + " has no size";
      if (!a.contains("question") || !a["question"].is_string() ||
          !is_question_id(a["question"].get<std::string>()))
        return "record manifest: attachment " + id + " names no valid question";
      if (!a.contains("media_type") || !a["media_type"].is_string() ||
          (a["media_type"] != "audio" && a["media_type"] != "photo" &&
           a["media_type"] != "document"))
        return "record manifest: attachment " + id + " has no valid media_type";
      if (!a.contains("name") || !a["name"].is_string() ||
          a["name"].get_ref<const std::string&>().size() > 1024)
        return "record manifest: attachment " + id + " has no valid name";
      if (!ids.insert(id).second) return "record manifest: attachment " + id + " listed twice";
      const uint64_t size = a["size"].get<uint64_t>();
      if (size > body_size) return "record manifest: attachment " + id + " too large";
      total += size;
      attachments.push_back({{"id", id},
                             {"question", a["question"]},
                             {"name", a["name"]},
                             {"media_type", a["media_type"]},
                             {"size", size}});
    }
  }
  manifest["attachments"] = std::move(attachments);
  if (total != body_size - 5 - m)
    return "record package length " + std::to_string(body_size) + " does not match its manifest (" +
           std::to_string(5 + uint64_t{m} + total) + ")";
  return std::nullopt;
}

// Reads a record package's header and manifest from its stored body and checks them
// (check_manifest). A body that cannot be read is an Error: nothing is then quarantined.
Result<std::optional<std::string>> check_package(BodyReader& body, const BundleMetadata& meta,
                                                 nlohmann::json& manifest, std::string& record_id) {
  using Reason = std::optional<std::string>;
  uint8_t head[5];
  if (body.size() < 5)
    return Reason("record package too short (" + std::to_string(body.size()) + " bytes)");
  SATCHEL_TRY(body.read_at(0, head));
  if (head[0] != 1)
    return Reason("record package version " + std::to_string(head[0]) + " (this version reads 1)");
  const uint32_t m = uint32_t{head[1]} | uint32_t{head[2]} << 8 | uint32_t{head[3]} << 16 |
                     uint32_t{head[4]} << 24;
  if (m > kMaxManifestBytes || m > body.size() - 5)
    return Reason("record package manifest length " + std::to_string(m) + " out of range");
  std::string text(m, '\0');
  SATCHEL_TRY(body.read_at(5, std::span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), m)));
  return check_manifest(text, m, body.size(), meta, manifest, record_id);
}

// What a quarantine row needs beyond its reason.
struct QuarantineKeys {
  const OpenedBundle* opened = nullptr;     // the bundle opened: its id and sender
  std::optional<int64_t> body_id;           // the bundle as received, or its opened body
  std::optional<Hash32> upload_id;          // the bundle did not open: SHA-256 of its bytes
  const BundleMetadata* waiting = nullptr;  // a record waiting for its form
};

Status quarantine(client::Profile& p, const std::string& reason, const QuarantineKeys& k,
                  int64_t day) {
  auto st = p.db().prepare(
      "INSERT INTO coord_quarantine (reason, bundle_id, device_key, opened, body_id, "
      "received_day, upload_id, waiting_form_id, waiting_form_version, form_hash) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!st) return st.error();
  st->bind(1, reason);
  if (k.opened) {
    st->bind_blob(2, view(k.opened->metadata.bundle_id));
    st->bind_blob(3, view(k.opened->sender.x25519));
  } else {
    st->bind_null(2).bind_null(3);
  }
  st->bind(4, int64_t{k.opened ? 1 : 0});
  if (k.body_id)
    st->bind(5, *k.body_id);
  else
    st->bind_null(5);
  st->bind(6, day);
  if (k.upload_id)
    st->bind_blob(7, ByteView(k.upload_id->data(), k.upload_id->size()));
  else
    st->bind_null(7);
  if (k.waiting) {
    st->bind(8, k.waiting->form_id).bind(9, static_cast<int64_t>(k.waiting->form_version));
    st->bind_blob(10, ByteView(k.waiting->form_hash.data(), k.waiting->form_hash.size()));
  } else {
    st->bind_null(8).bind_null(9).bind_null(10);
  }
  return st->run();
}

// Why a record body cannot be imported (nullopt: it was inserted into coord_records).
// `form_missing` is set when the only problem is a form this profile does not hold.
Result<std::optional<std::string>> file_record(client::Profile& p, const BundleMetadata& meta,
                                               const DevicePublicKey& sender, int64_t body_id,
                                               int64_t day, bool& form_missing) {
  form_missing = false;
  auto reader = BodyReader::open(p, body_id);
  if (!reader) return reader.error();
  nlohmann::json manifest;
  std::string record_id;
  auto checked = check_package(*reader, meta, manifest, record_id);
  if (!checked) return checked.error();
  std::optional<std::string> bad = std::move(checked.value());
  if (!bad) {
    auto form = client::TrustStore(p).form(meta.form_id, meta.form_version);
    if (!form) {
      form_missing = true;
      bad = "form " + shown_form_id(meta.form_id) + " version " +
            std::to_string(meta.form_version) +
            " is not known here: add it with `satchel coord form add` (the record is imported "
            "then)";
    } else if (Sha256::digest(as_bytes(form->source_text)) != meta.form_hash) {
      bad = "form " + shown_form_id(meta.form_id) + " version " +
            std::to_string(meta.form_version) +
            ": the bundle's form hash differs from the signed form held here";
    } else {
      // The answers as the device had to have them to finalize (this also bounds their depth
      // before anything copies or dumps them recursively).
      auto issues =
          form::validate_answers(*form, manifest["answers"], form::ValidationMode::kFinal);
      if (!issues.empty())
        bad = "answers do not fit form " + shown_form_id(meta.form_id) + " version " +
              std::to_string(meta.form_version) + " (" + std::to_string(issues.size()) +
              " problem(s), first: " + form::rule_name(issues[0].rule) + " at '" +
              shown_path(issues[0].path) + "')";
    }
  }
  if (!bad) {
    auto st = p.db().prepare("SELECT 1 FROM coord_records WHERE record_id = ?1");
    if (!st) return st.error();
    st->bind(1, record_id);
    auto row = st->step();
    if (!row) return row.error();
    if (*row) bad = "record id " + record_id + " already imported from another bundle";
  }
  if (bad) return bad;
  auto st = p.db().prepare(
      "INSERT INTO coord_records (record_id, bundle_id, device_key, form_id, form_version, "
      "manifest, body_id, received_day) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!st) return st.error();
  st->bind(1, record_id).bind_blob(2, view(meta.bundle_id)).bind_blob(3, view(sender.x25519));
  st->bind(4, meta.form_id).bind(5, static_cast<int64_t>(meta.form_version));
  st->bind(6, manifest.dump()).bind(7, body_id).bind(8, day);
  SATCHEL_TRY(st->run());
  st->release();
  if (manifest.contains("retraction")) {
    auto hash = from_hex(manifest["retraction"].get<std::string>());
    auto set = p.db().prepare("UPDATE coord_records SET retraction_hash = ?2 WHERE record_id = ?1");
    if (!set) return set.error();
    set->bind(1, record_id).bind_blob(2, *hash);
    SATCHEL_TRY(set->run());
    set->release();
    // A retraction that arrived before its record.
    auto pending = p.db().prepare("DELETE FROM coord_retractions WHERE hash = ?1");
    if (!pending) return pending.error();
    pending->bind_blob(1, *hash);
    SATCHEL_TRY(pending->run());
    if (p.db().changes() > 0) {
      pending->release();
      auto flag = p.db().prepare("UPDATE coord_records SET retracted = 1 WHERE record_id = ?1");
      if (!flag) return flag.error();
      flag->bind(1, record_id);
      SATCHEL_TRY(flag->run());
    }
  }
  return std::optional<std::string>();
}

// Files a retraction (content type 4): flags the record whose retraction hash it opens, or keeps
// the hash until that record arrives. Returns the reason when the body is malformed.
Result<std::optional<std::string>> file_retraction(client::Profile& p, BodyReader& body,
                                                   int64_t day) {
  using Reason = std::optional<std::string>;
  if (body.size() > 4096) return Reason("retraction body larger than 4 KiB");
  std::string text(static_cast<size_t>(body.size()), '\0');
  SATCHEL_TRY(
      body.read_at(0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), text.size())));
  const auto j = nlohmann::json::parse(text, nullptr, false);
  sodium_memzero(text.data(), text.size());
  if (j.is_discarded() || !j.is_object() || !j.contains("version") || j["version"] != 1 ||
      !j.contains("secret") || !j["secret"].is_string() ||
      !is_lower_hex(j["secret"].get<std::string>(), 32))
    return Reason("retraction body is not {\"version\":1,\"secret\":\"<32 hex>\"}");
  auto secret = from_hex(j["secret"].get<std::string>());
  const Hash32 hash = client::retraction_hash(*secret);
  const ByteView h(hash.data(), hash.size());
  auto flag = p.db().prepare("UPDATE coord_records SET retracted = 1 WHERE retraction_hash = ?1");
  if (!flag) return flag.error();
  flag->bind_blob(1, h);
  SATCHEL_TRY(flag->run());
  if (p.db().changes() == 0) {
    flag->release();
    auto keep = p.db().prepare(
        "INSERT INTO coord_retractions (hash, received_day) VALUES (?1, ?2) "
        "ON CONFLICT (hash) DO NOTHING");
    if (!keep) return keep.error();
    keep->bind_blob(1, h).bind(2, day);
    SATCHEL_TRY(keep->run());
  }
  return Reason();
}

// Reads a RandomAccessSource from its start as a ByteSource, hashing it: a bundle's upload id.
class HashingReader final : public ByteSource {
 public:
  explicit HashingReader(RandomAccessSource& src) : src_(src) {}
  Result<size_t> read(std::span<uint8_t> out) override {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), src_.size() - pos_));
    SATCHEL_TRY(src_.read_at(pos_, out.first(n)));
    hash_.update(ByteView(out.data(), n));
    pos_ += n;
    return n;
  }
  Hash32 finish() { return hash_.finish(); }

 private:
  RandomAccessSource& src_;
  uint64_t pos_ = 0;
  Sha256 hash_;
};

}  // namespace

const char* import_result_name(ImportResult r) {
  switch (r) {
    case ImportResult::kImported:
      return "imported";
    case ImportResult::kDuplicate:
      return "duplicate";
    case ImportResult::kCover:
      return "cover";
    case ImportResult::kQuarantined:
      return "quarantined";
    case ImportResult::kRetraction:
      return "retraction";
    case ImportResult::kJoined:
      return "joined";
  }
  return "unknown";
}

int64_t day_of(int64_t unix_seconds) {
  return unix_seconds >= 0 ? unix_seconds / 86400 : -((-unix_seconds + 86399) / 86400);
}

Result<Importer> Importer::open(client::Profile& profile) {
  SATCHEL_TRY(profile.require_kind(client::ProfileKind::kCoordinator));
  auto key = profile.coordinator_key();
  if (!key) return key.error();
  return Importer(profile, std::move(key.value()));
}

ImportBatch::ImportBatch(client::Profile& profile, Transaction tx)
    : profile_(&profile), tx_(std::move(tx)) {
  profile.pool().defer_syncs();
}

ImportBatch::~ImportBatch() {
  tx_.reset();  // rolled back unless committed
  if (profile_) (void)profile_->pool().settle_syncs();
}

Status ImportBatch::commit() {
  if (!profile_ || !tx_) return make_error(Errc::kInternal, "no import batch is open");
  // The pool's cells before the commit that names them (as BodyWriter::commit does alone).
  Status synced = std::exchange(profile_, nullptr)->pool().settle_syncs();
  if (!synced) return synced;
  Transaction tx = std::move(*tx_);
  tx_.reset();
  return tx.commit();
}

Status Importer::begin_batch() {
  if (batch_) return make_error(Errc::kInternal, "an import batch is already open");
  auto tx = Transaction::begin(profile_->db());
  if (!tx) return tx.error();
  batch_.emplace(*profile_, std::move(tx.value()));
  return Status::Ok();
}

Status Importer::commit_batch() {
  if (!batch_) return make_error(Errc::kInternal, "no import batch is open");
  Status s = batch_->commit();
  batch_.reset();
  return s;
}

Result<ImportOutcome> Importer::import(RandomAccessSource& bundle, int64_t day) {
  client::Profile& p = *profile_;
  auto& db = p.db();
  // A bundle already imported is recognised before anything is decrypted or written: verifying
  // (hashing, no decryption) yields its bundle id. Whatever verify says otherwise, open_bundle
  // below gives the verdict that counts.
  if (auto pre = verify_bundle(bundle, key_.x25519(), std::nullopt)) {
    auto st = db.prepare("SELECT 1 FROM coord_bundles WHERE bundle_id = ?1");
    if (!st) return st.error();
    st->bind_blob(1, view(pre->metadata().bundle_id));
    auto row = st->step();
    if (!row) return row.error();
    if (*row)
      return ImportOutcome{ImportResult::kDuplicate,
                           "bundle " + to_hex(view(pre->metadata().bundle_id))};
  }
  std::optional<Error> refused;
  {
    auto tx = Transaction::begin(db);
    if (!tx) return tx.error();
    auto body = BodyWriter::begin(p);
    if (!body) return body.error();
    auto opened = open_bundle(bundle, key_.x25519(), std::nullopt, *body);
    if (opened) {
      auto outcome = file_opened(*opened, body->body_id(), day);
      if (!outcome) return outcome.error();
      SATCHEL_TRY(tx->commit());
      return outcome;
    }
    // Only a bundle that breaks a rule of the format (a kBundle* code) is kept, as received,
    // with the rule it broke; any other failure (the source or the store) changes nothing.
    const Errc code = opened.error().code;
    if (code < Errc::kBundleUnsupportedVersion || code > Errc::kBundleTooLarge)
      return opened.error();
    refused = opened.error();
  }  // rolled back: the body written so far is gone
  auto tx = Transaction::begin(db);
  if (!tx) return tx.error();
  HashingReader whole(bundle);
  auto kept = store_body(p, whole);
  if (!kept) return kept.error();
  QuarantineKeys keys;
  keys.body_id = *kept;
  keys.upload_id = whole.finish();
  {
    // The same bytes kept before (a folder imported again): nothing changes.
    auto st = db.prepare("SELECT 1 FROM coord_quarantine WHERE upload_id = ?1");
    if (!st) return st.error();
    st->bind_blob(1, ByteView(keys.upload_id->data(), keys.upload_id->size()));
    auto row = st->step();
    if (!row) return row.error();
    if (*row) return ImportOutcome{ImportResult::kDuplicate, "kept in quarantine already", false};
  }  // (returning rolls the copy back)
  const std::string reason =
      std::string("did not open [") + errc_name(refused->code) + "]: " + refused->message;
  SATCHEL_TRY(quarantine(p, reason, keys, day));
  SATCHEL_TRY(tx->commit());
  return ImportOutcome{ImportResult::kQuarantined, reason, false,
                       refused->code == Errc::kBundleNoSlotOpens};
}

Result<ImportOutcome> Importer::file_opened(const OpenedBundle& b, int64_t body_id, int64_t day) {
  client::Profile& p = *profile_;
  auto& db = p.db();
  const BundleMetadata& meta = b.metadata;
  // A duplicate if `sql` finds this bundle id already filed: its new body is dropped.
  auto filed_before = [&](const char* sql) -> Result<std::optional<ImportOutcome>> {
    auto st = db.prepare(sql);
    if (!st) return st.error();
    st->bind_blob(1, view(meta.bundle_id));
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return std::optional<ImportOutcome>();
    st->release();
    SATCHEL_TRY(delete_body(p, body_id));
    return std::optional<ImportOutcome>(
        ImportOutcome{ImportResult::kDuplicate, "bundle " + to_hex(view(meta.bundle_id))});
  };
  constexpr const char* kInQuarantine = "SELECT 1 FROM coord_quarantine WHERE bundle_id = ?1";
  {
    auto dup = filed_before("SELECT 1 FROM coord_bundles WHERE bundle_id = ?1");
    if (!dup) return dup.error();
    if (*dup) return **dup;
  }
  const QuarantineKeys opened_keys{&b, body_id, std::nullopt, nullptr};
  // Devices count from a random 32-bit start (schema/client-database.md): a sequence of 2^63
  // or more is no device's, and would not order as a number in the store.
  if (meta.sequence > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    auto dup = filed_before(kInQuarantine);
    if (!dup) return dup.error();
    if (*dup) return **dup;
    const std::string reason = "sequence " + std::to_string(meta.sequence) +
                               " is out of range (at most 2^63 - 1): not recorded for completeness";
    SATCHEL_TRY(quarantine(p, reason, opened_keys, day));
    return ImportOutcome{ImportResult::kQuarantined, reason};
  }
  // The same sequence under another bundle id: the device key sealed two different bundles.
  {
    auto st =
        db.prepare("SELECT 1 FROM coord_bundles WHERE device_key = ?1 AND sequence = ?2 LIMIT 1");
    if (!st) return st.error();
    st->bind_blob(1, view(b.sender.x25519)).bind(2, static_cast<int64_t>(meta.sequence));
    auto row = st->step();
    if (!row) return row.error();
    if (*row) {
      st->release();
      auto dup = filed_before(kInQuarantine);
      if (!dup) return dup.error();
      if (*dup) return **dup;
      const std::string reason = "device key used twice: cloned or compromised (sequence " +
                                 std::to_string(meta.sequence) + " already received from " +
                                 b.sender.fingerprint() + " under another bundle id)";
      SATCHEL_TRY(quarantine(p, reason, opened_keys, day));
      return ImportOutcome{ImportResult::kQuarantined, reason};
    }
  }
  std::optional<int64_t> lost_after;
  {
    auto st = db.prepare(
        "INSERT INTO coord_devices (device_key, label, first_day, last_day) "
        "VALUES (?1, NULL, ?2, ?2) ON CONFLICT (device_key) DO UPDATE SET "
        "first_day = min(first_day, ?2), last_day = max(last_day, ?2) RETURNING lost_after");
    if (!st) return st.error();
    st->bind_blob(1, view(b.sender.x25519)).bind(2, day);
    auto row = st->step();
    if (!row) return row.error();
    if (*row && !st->is_null(0)) lost_after = st->int64(0);
    auto done = st->step();
    if (!done) return done.error();
  }
  {
    auto st = db.prepare(
        "INSERT INTO coord_bundles (bundle_id, device_key, sequence, content_type, received_day) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!st) return st.error();
    st->bind_blob(1, view(meta.bundle_id)).bind_blob(2, view(b.sender.x25519));
    st->bind(3, static_cast<int64_t>(meta.sequence));
    st->bind(4, static_cast<int64_t>(meta.content_type)).bind(5, day);
    SATCHEL_TRY(st->run());
  }
  // The sequence is the sender's word, and a thief holding the device key can choose it (a
  // number below the report, or in a gap): every bundle of a device reported lost that arrives
  // after the report is quarantined, whatever its sequence, for a person to judge.
  if (lost_after) {
    const std::string reason = "from a device reported lost (after its sequence " +
                               std::to_string(*lost_after) + "; this one says " +
                               std::to_string(meta.sequence) + "): check it with the advocate";
    SATCHEL_TRY(quarantine(p, reason, opened_keys, day));
    return ImportOutcome{ImportResult::kQuarantined, reason};
  }
  if (meta.content_type == ContentType::kCover) {
    SATCHEL_TRY(delete_body(p, body_id));
    return ImportOutcome{ImportResult::kCover, ""};
  }
  if (meta.content_type == ContentType::kRetraction) {
    auto reader = BodyReader::open(p, body_id);
    if (!reader) return reader.error();
    auto bad = file_retraction(p, *reader, day);
    if (!bad) return bad.error();
    if (*bad) {
      SATCHEL_TRY(quarantine(p, **bad, opened_keys, day));
      return ImportOutcome{ImportResult::kQuarantined, **bad};
    }
    SATCHEL_TRY(delete_body(p, body_id));  // the secret is not kept: the flag is the outcome
    return ImportOutcome{ImportResult::kRetraction, ""};
  }
  if (meta.content_type == ContentType::kDeviceHello) {
    auto reader = BodyReader::open(p, body_id);
    if (!reader) return reader.error();
    auto filed = file_device_hello(p, *reader, b.sender, day);
    if (!filed) return filed.error();
    if (filed->verdict == HelloVerdict::kRefused) {
      SATCHEL_TRY(quarantine(p, filed->detail, opened_keys, day));
      return ImportOutcome{ImportResult::kQuarantined, filed->detail};
    }
    SATCHEL_TRY(delete_body(p, body_id));  // what the hello says is in coord_device_invites
    return ImportOutcome{
        filed->verdict == HelloVerdict::kJoined ? ImportResult::kJoined : ImportResult::kDuplicate,
        filed->detail};
  }
  if (meta.content_type != ContentType::kRecord) {
    const std::string reason =
        std::string("content type ") + std::to_string(static_cast<int>(meta.content_type)) + " (" +
        content_type_name(meta.content_type) + ") is not imported by this version of Satchel";
    SATCHEL_TRY(quarantine(p, reason, opened_keys, day));
    return ImportOutcome{ImportResult::kQuarantined, reason};
  }
  bool form_missing = false;
  auto bad = file_record(p, meta, b.sender, body_id, day, form_missing);
  if (!bad) return bad.error();
  if (*bad) {
    SATCHEL_TRY(quarantine(
        p, **bad, QuarantineKeys{&b, body_id, std::nullopt, form_missing ? &meta : nullptr}, day));
    return ImportOutcome{ImportResult::kQuarantined, **bad};
  }
  auto st = db.prepare("SELECT record_id FROM coord_records WHERE bundle_id = ?1");
  if (!st) return st.error();
  st->bind_blob(1, view(meta.bundle_id));
  auto row = st->step();
  if (!row) return row.error();
  return ImportOutcome{ImportResult::kImported, *row ? st->text(0) : std::string()};
}

Result<size_t> import_all_waiting_records(client::Profile& p) {
  std::vector<std::pair<std::string, uint64_t>> forms;
  {
    auto st = p.db().prepare(
        "SELECT DISTINCT waiting_form_id, waiting_form_version FROM coord_quarantine "
        "WHERE waiting_form_id IS NOT NULL");
    if (!st) return st.error();
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      forms.emplace_back(st->text(0), static_cast<uint64_t>(st->int64(1)));
    }
  }
  size_t imported = 0;
  for (const auto& [id, version] : forms) {
    if (!client::TrustStore(p).form(id, version)) continue;  // still not held
    auto n = import_waiting_records(p, id, version);
    if (!n) return n.error();
    imported += *n;
  }
  return imported;
}

Result<size_t> import_waiting_records(client::Profile& p, const std::string& form_id,
                                      uint64_t version) {
  SATCHEL_TRY(p.require_kind(client::ProfileKind::kCoordinator));
  auto& db = p.db();
  struct Waiting {
    int64_t id, body_id, day;
    BundleMetadata meta;
    DevicePublicKey sender;
  };
  std::vector<Waiting> waiting;
  {
    auto st = db.prepare(
        "SELECT quarantine_id, body_id, received_day, bundle_id, device_key, form_hash "
        "FROM coord_quarantine WHERE waiting_form_id = ?1 AND waiting_form_version = ?2");
    if (!st) return st.error();
    st->bind(1, form_id).bind(2, static_cast<int64_t>(version));
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      Waiting w;
      w.id = st->int64(0);
      w.body_id = st->int64(1);
      w.day = st->int64(2);
      ByteView bid = st->blob(3), dev = st->blob(4), hash = st->blob(5);
      if (bid.size() != 16 || dev.size() != 32 || hash.size() != 32)
        return make_error(Errc::kIoError, "a quarantine entry is damaged");
      std::memcpy(w.meta.bundle_id.data(), bid.data(), 16);
      std::memcpy(w.sender.x25519.data(), dev.data(), 32);
      std::memcpy(w.meta.form_hash.data(), hash.data(), 32);
      w.meta.form_id = form_id;
      w.meta.form_version = version;
      w.meta.content_type = ContentType::kRecord;
      waiting.push_back(std::move(w));
    }
  }
  size_t imported = 0;
  for (const Waiting& w : waiting) {
    auto tx = Transaction::begin(db);
    if (!tx) return tx.error();
    Result<std::optional<std::string>> bad = std::optional<std::string>();
    auto lost = db.prepare("SELECT lost_after FROM coord_devices WHERE device_key = ?1");
    if (!lost) return lost.error();
    lost->bind_blob(1, view(w.sender.x25519));
    auto row = lost->step();
    if (!row) return row.error();
    if (*row && !lost->is_null(0)) {
      bad = std::optional<std::string>("from a device reported lost (after its sequence " +
                                       std::to_string(lost->int64(0)) +
                                       "): check it with the advocate");
    } else {
      lost->release();
      bool form_missing = false;
      bad = file_record(p, w.meta, w.sender, w.body_id, w.day, form_missing);
    }
    lost->release();
    if (!bad) return bad.error();
    auto st =
        db.prepare(*bad ? "UPDATE coord_quarantine SET reason = ?2, waiting_form_id = NULL, "
                          "waiting_form_version = NULL WHERE quarantine_id = ?1"
                        : "DELETE FROM coord_quarantine WHERE quarantine_id = ?1 AND ?2 IS NULL");
    if (!st) return st.error();
    st->bind(1, w.id);
    if (*bad)
      st->bind(2, **bad);
    else
      st->bind_null(2);
    SATCHEL_TRY(st->run());
    st->release();
    SATCHEL_TRY(tx->commit());
    if (!*bad) imported++;
  }
  return imported;
}

}  // namespace satchel::coord
