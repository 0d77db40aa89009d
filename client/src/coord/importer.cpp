#include "satchel/coord/importer.h"

#include <nlohmann/json.hpp>

#include <cstring>

#include "satchel/client/trust_store.h"
#include "satchel/coord/body_store.h"
#include "satchel/crypto/bundle.h"
#include "satchel/crypto/sha256.h"

namespace satchel::coord {

namespace {

using client::Transaction;

// The manifest is read into memory: bounded so that a hostile package cannot exhaust it.
constexpr uint32_t kMaxManifestBytes = 16u << 20;

bool is_lower_hex(std::string_view s, size_t len) {
  if (s.size() != len) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

ByteView view(const BundleId& id) { return ByteView(id.data(), id.size()); }
ByteView view(const Key32& k) { return ByteView(k.data(), k.size()); }

const char* content_type_name(ContentType t) {
  switch (t) {
    case ContentType::kRecord: return "record";
    case ContentType::kAttachment: return "attachment";
    case ContentType::kDeviceHello: return "device hello";
    case ContentType::kRetraction: return "retraction";
    case ContentType::kCover: return "cover";
  }
  return "unknown";
}

// Why a record package cannot be imported, or nullopt; fills the manifest on success.
std::optional<std::string> check_package(BodyReader& body, const BundleMetadata& meta,
                                         nlohmann::json& manifest, std::string& record_id) {
  uint8_t head[5];
  if (body.size() < 5) return "record package too short (" + std::to_string(body.size()) + " bytes)";
  if (!body.read_at(0, head)) return "record package unreadable";
  if (head[0] != 1)
    return "record package version " + std::to_string(head[0]) + " (this version reads 1)";
  const uint32_t m = uint32_t{head[1]} | uint32_t{head[2]} << 8 | uint32_t{head[3]} << 16 |
                     uint32_t{head[4]} << 24;
  if (m > kMaxManifestBytes || m > body.size() - 5)
    return "record package manifest length " + std::to_string(m) + " out of range";
  std::string text(m, '\0');
  if (!body.read_at(5, std::span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), m)))
    return "record package unreadable";
  manifest = nlohmann::json::parse(text, nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object()) return "record manifest is not a JSON object";
  auto rid = manifest.find("record_id");
  if (rid == manifest.end() || !rid->is_string() || !is_lower_hex(rid->get<std::string>(), 32))
    return "record manifest: record_id is not 32 lower-case hex digits";
  record_id = rid->get<std::string>();
  auto form = manifest.find("form");
  if (form == manifest.end() || !form->is_object() || !form->contains("id") ||
      !form->contains("version") || !(*form)["id"].is_string() ||
      !(*form)["version"].is_number_unsigned())
    return "record manifest: form id and version missing";
  if ((*form)["id"].get<std::string>() != meta.form_id ||
      (*form)["version"].get<uint64_t>() != meta.form_version)
    return "record manifest names form " + (*form)["id"].get<std::string>() +
           " but the bundle says " + meta.form_id;
  if (!manifest.contains("answers") || !manifest["answers"].is_object())
    return "record manifest: answers is not an object";
  uint64_t total = 0;
  std::vector<std::string> ids;
  if (manifest.contains("attachments")) {
    const auto& atts = manifest["attachments"];
    if (!atts.is_array()) return "record manifest: attachments is not a list";
    for (const auto& a : atts) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_string() ||
          !is_lower_hex(a["id"].get<std::string>(), 16))
        return "record manifest: an attachment id is not 16 lower-case hex digits";
      if (!a.contains("size") || !a["size"].is_number_unsigned())
        return "record manifest: an attachment has no size";
      const std::string id = a["id"].get<std::string>();
      for (const auto& seen : ids)
        if (seen == id) return "record manifest: attachment " + id + " listed twice";
      ids.push_back(id);
      const uint64_t size = a["size"].get<uint64_t>();
      if (size > body.size()) return "record manifest: attachment " + id + " too large";
      total += size;
    }
  }
  if (total != body.size() - 5 - m)
    return "record package length " + std::to_string(body.size()) +
           " does not match its manifest (" + std::to_string(5 + uint64_t{m} + total) + ")";
  return std::nullopt;
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
  std::optional<std::string> bad = check_package(*reader, meta, manifest, record_id);
  if (!bad) {
    auto form = client::TrustStore(p).form(meta.form_id, meta.form_version);
    if (!form) {
      form_missing = true;
      bad = "form " + meta.form_id + " version " + std::to_string(meta.form_version) +
            " is not known here: add it with `satchel coord form add` (the record is imported "
            "then)";
    } else if (Sha256::digest(as_bytes(form->source_text)) != meta.form_hash) {
      bad = "form " + meta.form_id + " version " + std::to_string(meta.form_version) +
            ": the bundle's form hash differs from the signed form held here";
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
  return std::optional<std::string>();
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
    case ImportResult::kImported: return "imported";
    case ImportResult::kDuplicate: return "duplicate";
    case ImportResult::kCover: return "cover";
    case ImportResult::kQuarantined: return "quarantined";
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

Result<ImportOutcome> Importer::import(RandomAccessSource& bundle, int64_t day) {
  client::Profile& p = *profile_;
  auto& db = p.db();
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
    // A source that cannot be read is the caller's problem (nothing changes); a bundle that
    // breaks a rule of the format is kept, as received, with the rule it broke.
    if (opened.error().code == Errc::kIoError || opened.error().code == Errc::kNotFound)
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
  return ImportOutcome{ImportResult::kQuarantined, reason, false};
}

Result<ImportOutcome> Importer::file_opened(const OpenedBundle& b, int64_t body_id, int64_t day) {
  client::Profile& p = *profile_;
  auto& db = p.db();
  const BundleMetadata& meta = b.metadata;
  {
    auto st = db.prepare("SELECT 1 FROM coord_bundles WHERE bundle_id = ?1");
    if (!st) return st.error();
    st->bind_blob(1, view(meta.bundle_id));
    auto row = st->step();
    if (!row) return row.error();
    if (*row) {
      st->release();
      SATCHEL_TRY(delete_body(p, body_id));
      return ImportOutcome{ImportResult::kDuplicate, "bundle " + to_hex(view(meta.bundle_id))};
    }
  }
  const QuarantineKeys opened_keys{&b, body_id, std::nullopt, nullptr};
  // The same sequence under another bundle id: the device key sealed two different bundles.
  {
    auto st = db.prepare(
        "SELECT 1 FROM coord_bundles WHERE device_key = ?1 AND sequence = ?2 LIMIT 1");
    if (!st) return st.error();
    st->bind_blob(1, view(b.sender.x25519)).bind(2, static_cast<int64_t>(meta.sequence));
    auto row = st->step();
    if (!row) return row.error();
    if (*row) {
      st->release();
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
  if (lost_after && meta.sequence > static_cast<uint64_t>(*lost_after)) {
    const std::string reason = "sent after its device was reported lost (sequence " +
                               std::to_string(meta.sequence) + " > " +
                               std::to_string(*lost_after) + ")";
    SATCHEL_TRY(quarantine(p, reason, opened_keys, day));
    return ImportOutcome{ImportResult::kQuarantined, reason};
  }
  if (meta.content_type == ContentType::kCover) {
    SATCHEL_TRY(delete_body(p, body_id));
    return ImportOutcome{ImportResult::kCover, ""};
  }
  if (meta.content_type != ContentType::kRecord) {
    const std::string reason = std::string("content type ") +
                               std::to_string(static_cast<int>(meta.content_type)) + " (" +
                               content_type_name(meta.content_type) +
                               ") is not imported by this version of Satchel";
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
    bool form_missing = false;
    auto bad = file_record(p, w.meta, w.sender, w.body_id, w.day, form_missing);
    if (!bad) return bad.error();
    auto st = db.prepare(
        *bad ? "UPDATE coord_quarantine SET reason = ?2, waiting_form_id = NULL, "
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
