#include "satchel/coord/backup.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "coord/backup_format.h"
#include "profile/disk_file.h"
#include "satchel/client/trust_store.h"
#include "satchel/coord/body_store.h"

namespace satchel::coord {

namespace fs = std::filesystem;
using backup::Kind;
using backup::SecretBuffer;

namespace {

BackupCounts counts_of(const backup::Counts& c, uint64_t body_bytes) {
  BackupCounts o;
  o.settings = c[backup::count_index(Kind::kSetting)];
  o.forms = c[backup::count_index(Kind::kForm)];
  o.devices = c[backup::count_index(Kind::kDevice)];
  o.bundles = c[backup::count_index(Kind::kBundle)];
  o.records = c[backup::count_index(Kind::kRecord)];
  o.quarantine = c[backup::count_index(Kind::kQuarantine)];
  o.retractions = c[backup::count_index(Kind::kRetraction)];
  o.exports = c[backup::count_index(Kind::kExport)];
  o.bodies = c[backup::count_index(Kind::kBody)];
  o.body_bytes = body_bytes;
  return o;
}

std::string_view text_of(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// ===================================================================================== writing

Error damaged(Kind k, const Error& why) {
  return make_error(Errc::kIoError, std::string("the store cannot be backed up: a ") +
                                        backup::kind_name(k) + " row is damaged (" + why.message +
                                        ")");
}

// Nullable columns.
std::optional<ByteView> opt_blob(const client::Statement& st, int col) {
  if (st.is_null(col)) return std::nullopt;
  return st.blob(col);
}
std::optional<std::string_view> opt_text(const client::Statement& st, int col) {
  if (st.is_null(col)) return std::nullopt;
  return text_of(st.blob(col));
}
std::optional<uint64_t> opt_u64(const client::Statement& st, int col) {
  if (st.is_null(col)) return std::nullopt;
  return static_cast<uint64_t>(st.int64(col));
}

// The plaintext of a backup as a stream: one record at a time is encoded into secret memory
// from the rows of one query, and bodies are read chunk by chunk from the body store. The same
// walk without reading bodies gives the exact length that the bundle's inner header needs
// before the first byte is sealed.
class PlaintextSource final : public ByteSource {
 public:
  // measure_only: bodies are counted by their stored size and never read.
  PlaintextSource(client::Profile& p, int64_t now, bool measure_only)
      : p_(&p), now_(now), measure_only_(measure_only) {}

  Result<size_t> read(std::span<uint8_t> out) override {
    size_t n = 0;
    while (n < out.size()) {
      if (rec_pos_ < rec_.size()) {
        const size_t k = std::min(out.size() - n, rec_.size() - rec_pos_);
        std::memcpy(out.data() + n, rec_.view().data() + rec_pos_, k);
        rec_pos_ += k;
        n += k;
        continue;
      }
      if (body_left_ > 0) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(out.size() - n, body_left_));
        auto got = body_->read(out.subspan(n, want));
        if (!got) return got.error();
        if (*got == 0) return make_error(Errc::kIoError, "a stored body ended before its size");
        n += *got;
        body_left_ -= *got;
        continue;
      }
      body_.reset();
      auto more = next();
      if (!more) return more.error();
      if (!*more) break;
    }
    return n;
  }

  // The length of the whole plaintext (call on a fresh source).
  Result<uint64_t> measure() {
    uint64_t total = 0;
    for (;;) {
      auto more = next();
      if (!more) return more.error();
      if (!*more) return total;
      total += rec_.size() + body_left_;
      body_left_ = 0;
    }
  }

  const backup::Counts& counts() const { return counts_; }
  uint64_t body_bytes() const { return body_bytes_; }

 private:
  // The stages, in record-kind order; each table stage walks one query.
  enum class Stage {
    kHeader,
    kKey,
    kSettings,
    kForms,
    kDevices,
    kBundles,
    kRecords,
    kQuarantine,
    kRetractions,
    kExports,
    kEnd,
    kDone
  };

  static const char* query(Stage s) {
    switch (s) {
      case Stage::kSettings:
        return "SELECT name, value FROM settings ORDER BY name";
      case Stage::kForms:
        return "SELECT form_id, version, package FROM forms ORDER BY form_id, version";
      case Stage::kDevices:
        return "SELECT device_key, label, first_day, last_day, lost_after FROM coord_devices "
               "ORDER BY device_key";
      case Stage::kBundles:
        return "SELECT bundle_id, device_key, sequence, content_type, received_day "
               "FROM coord_bundles ORDER BY bundle_id";
      case Stage::kRecords:
        return "SELECT record_id, bundle_id, device_key, form_id, form_version, manifest, "
               "received_day, retracted, retraction_hash, body_id FROM coord_records ORDER BY "
               "rowid";
      case Stage::kQuarantine:
        return "SELECT quarantine_id, reason, bundle_id, device_key, opened, received_day, "
               "upload_id, waiting_form_id, waiting_form_version, form_hash, body_id "
               "FROM coord_quarantine ORDER BY quarantine_id";
      case Stage::kRetractions:
        return "SELECT hash, received_day FROM coord_retractions ORDER BY hash";
      case Stage::kExports:
        return "SELECT export_id, at, form_id, form_version, format, options, records "
               "FROM coord_exports ORDER BY export_id";
      default:
        return nullptr;
    }
  }

  // Encodes the next record into rec_ (and, for a body, sets body_left_); false at the end.
  Result<bool> next() {
    rec_.clear();
    rec_pos_ = 0;
    if (pending_body_) {
      const int64_t id = *pending_body_;
      pending_body_.reset();
      SATCHEL_TRY(start_body(id));
      return true;
    }
    for (;;) {
      switch (stage_) {
        case Stage::kHeader: {
          backup::Header h;
          h.created_at = now_;
          h.schema_version = static_cast<uint32_t>(std::max(p_->db().schema_version(), 0));
          backup::encode(h, rec_);
          stage_ = Stage::kKey;
          return true;
        }
        case Stage::kKey: {
          auto key = p_->coordinator_key();
          if (!key) return key.error();
          const SecretBytes text = key->to_text();
          backup::encode(backup::Key{text.span()}, rec_);
          stage_ = Stage::kSettings;
          return true;
        }
        case Stage::kEnd: {
          backup::End e;
          e.counts = counts_;
          backup::encode(e, rec_);
          stage_ = Stage::kDone;
          return true;
        }
        case Stage::kDone:
          return false;
        default:
          break;
      }
      if (!stmt_) {
        auto st = p_->db().prepare(query(stage_));
        if (!st) return st.error();
        stmt_ = std::move(st.value());
      }
      auto row = stmt_->step();
      if (!row) return row.error();
      if (!*row) {
        stmt_.reset();
        stage_ = static_cast<Stage>(static_cast<int>(stage_) + 1);
        continue;
      }
      auto encoded = encode_row();
      if (!encoded) return encoded.error();
      if (*encoded) return true;  // else a row left out (a setting restore makes itself)
    }
  }

  // Encodes the current row of stmt_; false if the row is not part of a backup.
  Result<bool> encode_row() {
    const client::Statement& st = *stmt_;
    switch (stage_) {
      case Stage::kSettings: {
        const std::string_view name = text_of(st.blob(0));
        if (name == "profile_kind" || name == "coordinator_secret_key") return false;
        backup::Setting s{name, st.blob(1)};
        return put(Kind::kSetting, s);
      }
      case Stage::kForms: {
        backup::Form f{text_of(st.blob(0)), static_cast<uint64_t>(st.int64(1)),
                       text_of(st.blob(2))};
        return put(Kind::kForm, f);
      }
      case Stage::kDevices: {
        backup::Device d;
        d.key = st.blob(0);
        d.label = opt_text(st, 1);
        d.first_day = st.int64(2);
        d.last_day = st.int64(3);
        d.lost_after = opt_u64(st, 4);
        return put(Kind::kDevice, d);
      }
      case Stage::kBundles: {
        backup::BundleSeen b;
        b.bundle_id = st.blob(0);
        b.device_key = st.blob(1);
        b.sequence = static_cast<uint64_t>(st.int64(2));
        b.content_type = static_cast<uint8_t>(st.int64(3));
        b.received_day = st.int64(4);
        if (st.int64(3) < 0 || st.int64(3) > 255) b.content_type = 0;  // refused by check()
        return put(Kind::kBundle, b);
      }
      case Stage::kRecords: {
        backup::Record r;
        r.record_id = text_of(st.blob(0));
        r.bundle_id = st.blob(1);
        r.device_key = st.blob(2);
        r.form_id = text_of(st.blob(3));
        r.form_version = static_cast<uint64_t>(st.int64(4));
        r.manifest = text_of(st.blob(5));
        r.received_day = st.int64(6);
        r.retracted = st.int64(7) != 0;
        r.retraction_hash = opt_blob(st, 8);
        pending_body_ = st.int64(9);
        return put(Kind::kRecord, r);
      }
      case Stage::kQuarantine: {
        backup::Quarantined q;
        q.quarantine_id = st.int64(0);
        q.reason = text_of(st.blob(1));
        q.bundle_id = opt_blob(st, 2);
        q.device_key = opt_blob(st, 3);
        q.opened = st.int64(4) != 0;
        q.received_day = st.int64(5);
        q.upload_id = opt_blob(st, 6);
        q.waiting_form_id = opt_text(st, 7);
        q.waiting_form_version = opt_u64(st, 8);
        q.form_hash = opt_blob(st, 9);
        q.has_body = !st.is_null(10);
        if (q.has_body) pending_body_ = st.int64(10);
        return put(Kind::kQuarantine, q);
      }
      case Stage::kRetractions: {
        backup::Retraction r{st.blob(0), st.int64(1)};
        return put(Kind::kRetraction, r);
      }
      case Stage::kExports: {
        backup::Export e;
        e.export_id = st.int64(0);
        e.at = st.int64(1);
        e.form_id = text_of(st.blob(2));
        e.form_version = static_cast<uint64_t>(st.int64(3));
        e.format = text_of(st.blob(4));
        e.options = text_of(st.blob(5));
        e.records = static_cast<uint64_t>(st.int64(6));
        return put(Kind::kExport, e);
      }
      default:
        return make_error(Errc::kInternal, "backup: no rows in this stage");
    }
  }

  // Checks a row as a restore will, then encodes it within the record size limit.
  template <class Row>
  Result<bool> put(Kind kind, const Row& row) {
    if (Status s = backup::check(row); !s) return damaged(kind, s.error());
    backup::encode(row, rec_);
    if (rec_.size() - backup::kRecordHeaderSize > backup::kMaxRecordPayload)
      return damaged(kind, make_error(Errc::kInvalidArgument, "larger than 16 MiB"));
    counts_[backup::count_index(kind)]++;
    return true;
  }

  // Emits a body record's header; its bytes follow from the body store.
  Status start_body(int64_t body_id) {
    uint64_t size = 0;
    if (measure_only_) {
      auto st = p_->db().prepare("SELECT size FROM coord_bodies WHERE body_id = ?1");
      if (!st) return st.error();
      st->bind(1, body_id);
      auto row = st->step();
      if (!row) return row.error();
      if (!*row)
        return make_error(Errc::kIoError,
                          "the store cannot be backed up: a stored body is missing");
      size = static_cast<uint64_t>(st->int64(0));
    } else {
      auto reader = BodyReader::open(*p_, body_id);
      if (!reader) return reader.error();
      size = reader->size();
      body_.emplace(std::move(reader.value()));
    }
    if (size > backup::kMaxBodyPayload)
      return make_error(Errc::kIoError, "the store cannot be backed up: a body is too large");
    backup::encode_body_header(size, rec_);
    body_left_ = size;
    body_bytes_ += size;
    counts_[backup::count_index(Kind::kBody)]++;
    return Status::Ok();
  }

  client::Profile* p_;
  int64_t now_;
  bool measure_only_;
  Stage stage_ = Stage::kHeader;
  std::optional<client::Statement> stmt_;
  SecretBuffer rec_;  // the current record's bytes (plaintext: secret memory, wiped)
  size_t rec_pos_ = 0;
  std::optional<int64_t> pending_body_;  // the body that follows the record in rec_
  std::optional<BodyReader> body_;
  uint64_t body_left_ = 0;
  backup::Counts counts_{};
  uint64_t body_bytes_ = 0;
};

// A read transaction for the length of the backup: both passes see one snapshot. Only read,
// never committed: the profile is left exactly as it was.
class ReadSnapshot {
 public:
  static Result<ReadSnapshot> begin(client::Database& db) {
    SATCHEL_TRY(db.exec("BEGIN DEFERRED"));
    return ReadSnapshot(db);
  }
  ReadSnapshot(ReadSnapshot&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
  ReadSnapshot& operator=(ReadSnapshot&&) = delete;
  ~ReadSnapshot() {
    if (db_ && db_->in_transaction()) (void)db_->exec("ROLLBACK");
  }

 private:
  explicit ReadSnapshot(client::Database& db) : db_(&db) {}
  client::Database* db_;
};

}  // namespace

Result<BackupSummary> write_backup(client::Profile& profile, const std::vector<BackupPublicKey>& to,
                                   ByteSink& out, int64_t now) {
  SATCHEL_TRY(profile.require_kind(client::ProfileKind::kCoordinator));
  if (to.empty() || to.size() > kBundleMaxSlots)
    return make_error(Errc::kInvalidArgument, "a backup is sealed to 1 to 64 backup keys");
  auto key = profile.coordinator_key();
  if (!key) return key.error();
  auto snapshot = ReadSnapshot::begin(profile.db());
  if (!snapshot) return snapshot.error();

  uint64_t length = 0;
  backup::Counts measured{};
  {
    PlaintextSource m(profile, now, true);
    auto n = m.measure();
    if (!n) return n.error();
    length = *n;
    measured = m.counts();
  }
  PlaintextSource src(profile, now, false);
  const DeviceSecretKey sender = key->bundle_sender();
  SealRequest req;
  req.sender = &sender;
  for (const auto& k : to) req.recipients.push_back(k.x25519);
  req.metadata.created_at = now;
  req.metadata.content_type = ContentType::kBackup;
  req.metadata.body_length = length;
  auto sealed = seal_bundle(std::move(req), src, out);
  if (!sealed) return sealed.error();
  if (src.counts() != measured)
    return make_error(Errc::kInternal, "backup: the store changed between its two passes");
  BackupSummary s;
  s.coordinator = key->public_key();
  s.counts = counts_of(src.counts(), src.body_bytes());
  s.plaintext_bytes = length;
  s.size = sealed->size;
  return s;
}

// =================================================================================== restoring

namespace {

Error malformed(const std::string& what) {
  return make_error(Errc::kBackupMalformed, "backup: " + what);
}

// Parses the plaintext as it is decrypted and applies each record to a new profile in
// `staging`, created when the coordinator key arrives (second record). Everything happens in
// one transaction, committed by finish(). Written from the calling thread only.
class RestoreSink final : public ByteSink {
 public:
  RestoreSink(std::string staging, const SecretBytes& passphrase, const RestoreOptions& o,
              const DevicePublicKey& sender)
      : staging_(std::move(staging)), passphrase_(passphrase), options_(o), sender_(sender) {}

  Status write(ByteView data) override {
    while (!data.empty()) {
      switch (state_) {
        case State::kHead: {
          const size_t k = std::min(data.size(), backup::kRecordHeaderSize - head_len_);
          std::memcpy(head_ + head_len_, data.data(), k);
          head_len_ += k;
          data = data.subspan(k);
          if (head_len_ == backup::kRecordHeaderSize) SATCHEL_TRY(start_record());
          break;
        }
        case State::kPayload: {
          const size_t k = static_cast<size_t>(std::min<uint64_t>(data.size(), left_));
          rec_.append(data.first(k));
          data = data.subspan(k);
          left_ -= k;
          if (left_ == 0) SATCHEL_TRY(end_record());
          break;
        }
        case State::kBody: {
          const size_t k = static_cast<size_t>(std::min<uint64_t>(data.size(), left_));
          SATCHEL_TRY(body_->write(data.first(k)));
          data = data.subspan(k);
          left_ -= k;
          if (left_ == 0) SATCHEL_TRY(end_body());
          break;
        }
        case State::kEnded:
          return malformed("bytes after the end record");
      }
    }
    return Status::Ok();
  }

  // The stream is complete: checks that it ended properly and commits. The profile is closed.
  Result<RestoreSummary> finish() {
    if (state_ != State::kEnded) return malformed("the backup ends before its end record");
    SATCHEL_TRY(tx_->commit());
    tx_.reset();
    profile_.reset();
    RestoreSummary s;
    s.coordinator = *coordinator_;
    s.created_at = created_at_;
    s.counts = counts_of(counts_, body_bytes_);
    return s;
  }

  // Abandons the profile (rolled back, closed) so that its directory can be removed.
  void abandon() {
    body_.reset();
    tx_.reset();
    profile_.reset();
  }

 private:
  enum class State { kHead, kPayload, kBody, kEnded };

  Status start_record() {
    head_len_ = 0;
    const uint8_t k = head_[0];
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = (len << 8) | head_[1 + i];
    if (!backup::kind_known(k)) return malformed("unknown record kind " + std::to_string(k));
    const Kind kind = static_cast<Kind>(k);
    SATCHEL_TRY(check_order(kind));
    if (kind == Kind::kBody) {
      if (len > backup::kMaxBodyPayload) return malformed("a body larger than 2^40 bytes");
      auto w = BodyWriter::begin(*profile_);
      if (!w) return w.error();
      body_.emplace(std::move(w.value()));
      left_ = len;
      body_bytes_ += len;
      counts_[backup::count_index(Kind::kBody)]++;
      state_ = State::kBody;
      return len == 0 ? end_body() : Status::Ok();
    }
    if (len > backup::kMaxRecordPayload)
      return malformed(std::string("a ") + backup::kind_name(kind) + " record larger than 16 MiB");
    kind_ = kind;
    rec_.clear();
    left_ = len;
    state_ = State::kPayload;
    return len == 0 ? end_record() : Status::Ok();
  }

  // Header first, then the key, then kinds in order; a body only right after the record or
  // quarantine entry that announced it, and nothing else until it has come.
  Status check_order(Kind kind) {
    if (pending_ != Kind::kBody && kind != Kind::kBody)
      return malformed(std::string("a ") + backup::kind_name(pending_) +
                       " record without the body it announced");
    if (kind == Kind::kBody) {
      if (pending_ == Kind::kBody) return malformed("a body that belongs to no record");
      return Status::Ok();
    }
    const bool first = last_ == Kind::kBody;  // nothing read yet (kBody stands for "none")
    if (first && kind != Kind::kHeader) return malformed("the header record does not come first");
    if (!first && last_ == Kind::kHeader && kind != Kind::kKey)
      return malformed("the key record does not follow the header");
    if (!first &&
        (kind < last_ || (kind == last_ && (kind == Kind::kHeader || kind == Kind::kKey))))
      return malformed(std::string("a ") + backup::kind_name(kind) + " record out of order");
    last_ = kind;
    return Status::Ok();
  }

  Status end_record() {
    state_ = State::kHead;
    const ByteView payload = rec_.view();
    if (backup::counted(kind_)) counts_[backup::count_index(kind_)]++;
    switch (kind_) {
      case Kind::kHeader: {
        auto h = backup::decode_header(payload);
        if (!h) return h.error();
        created_at_ = h->created_at;
        return Status::Ok();
      }
      case Kind::kKey:
        return create_profile(payload);
      case Kind::kSetting:
        return apply_setting(payload);
      case Kind::kForm:
        return apply_form(payload);
      case Kind::kDevice:
        return apply_device(payload);
      case Kind::kBundle:
        return apply_bundle(payload);
      case Kind::kRecord: {
        auto r = backup::decode_record(payload);
        if (!r) return r.error();
        pending_ = Kind::kRecord;  // inserted once its body is stored
        pending_rec_.swap(rec_);
        return Status::Ok();
      }
      case Kind::kQuarantine: {
        auto q = backup::decode_quarantine(payload);
        if (!q) return q.error();
        if (!q->has_body) return insert_quarantine(*q, std::nullopt);
        pending_ = Kind::kQuarantine;
        pending_rec_.swap(rec_);
        return Status::Ok();
      }
      case Kind::kRetraction:
        return apply_retraction(payload);
      case Kind::kExport:
        return apply_export(payload);
      case Kind::kEnd: {
        auto e = backup::decode_end(payload);
        if (!e) return e.error();
        if (e->counts != counts_)
          return malformed("the end record's counts differ from the records read");
        state_ = State::kEnded;
        return Status::Ok();
      }
      case Kind::kBody:
        break;
    }
    return make_error(Errc::kInternal, "restore: unexpected record kind");
  }

  Status end_body() {
    state_ = State::kHead;
    SATCHEL_TRY(body_->commit());
    const int64_t body_id = body_->body_id();
    body_.reset();
    const Kind owner = pending_;
    pending_ = Kind::kBody;
    const ByteView payload = pending_rec_.view();
    Status s;
    if (owner == Kind::kRecord) {
      auto r = backup::decode_record(payload);
      s = r ? insert_record(*r, body_id) : Status(r.error());
    } else {
      auto q = backup::decode_quarantine(payload);
      s = q ? insert_quarantine(*q, body_id) : Status(q.error());
    }
    pending_rec_.clear();
    return s;
  }

  Status create_profile(ByteView payload) {
    auto k = backup::decode_key(payload);
    if (!k) return k.error();
    auto key = CoordinatorSecretKey::from_text(k->secret_text);
    if (!key) return malformed("the coordinator key: " + key.error().message);
    if (key->public_key().x25519 != sender_.x25519)
      return make_error(Errc::kBackupSenderMismatch,
                        "the backup was not sealed by the coordinator key it holds (fingerprint " +
                            key->public_key().fingerprint() + "): refused");
    if (options_.expect && !(*options_.expect == key->public_key()))
      return make_error(Errc::kBackupUnexpectedCoordinator,
                        "the backup holds coordinator " + key->public_key().fingerprint() +
                            ", not the expected " + options_.expect->fingerprint());
    coordinator_ = key->public_key();
    client::ProfileContents contents;
    contents.kind = client::ProfileKind::kCoordinator;
    contents.coordinator_key = std::move(key.value());
    auto info =
        client::Profile::create(staging_, passphrase_, options_.params, std::move(contents));
    if (!info) return info.error();
    auto p = client::Profile::open(staging_, passphrase_);
    if (!p) return p.error();
    profile_.emplace(std::move(p.value()));
    auto tx = client::Transaction::begin(profile_->db());
    if (!tx) return tx.error();
    tx_.emplace(std::move(tx.value()));
    return Status::Ok();
  }

  Status apply_setting(ByteView payload) {
    auto s = backup::decode_setting(payload);
    if (!s) return s.error();
    if (last_setting_ && !(*last_setting_ < s->name))
      return malformed("settings out of order or repeated");
    last_setting_ = std::string(s->name);
    const std::string_view value = text_of(s->value);
    if (s->name == "org_public_key") {
      auto org = OrgPublicKey::from_text(value);
      if (!org) return malformed("the organisation key: " + org.error().message);
      org_ = *org;
    } else if (s->name == "roster") {
      if (!org_) return malformed("a roster without the organisation key before it");
      auto r = Roster::verify(value, *org_, INT64_MIN);  // expired or not, it was held
      if (!r) return malformed("the roster: " + r.error().message);
    }
    return profile_->set_setting(std::string(s->name), value);
  }

  Status apply_form(ByteView payload) {
    auto f = backup::decode_form(payload);
    if (!f) return f.error();
    const std::string where =
        "backup form " + std::string(f->form_id) + " v" + std::to_string(f->version);
    auto added = client::TrustStore(*profile_).add_form(f->package, where);
    if (!added) return malformed(added.error().message);
    if (added->id != f->form_id || added->version != f->version)
      return malformed(where + ": the signed package is of another form or version");
    return Status::Ok();
  }

  Status apply_device(ByteView payload) {
    auto d = backup::decode_device(payload);
    if (!d) return d.error();
    auto st = profile_->db().prepare(
        "INSERT INTO coord_devices (device_key, label, first_day, last_day, lost_after) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!st) return st.error();
    st->bind_blob(1, d->key).bind(3, d->first_day).bind(4, d->last_day);
    if (d->label)
      st->bind(2, *d->label);
    else
      st->bind_null(2);
    if (d->lost_after)
      st->bind(5, static_cast<int64_t>(*d->lost_after));
    else
      st->bind_null(5);
    return run(*st, Kind::kDevice);
  }

  Status apply_bundle(ByteView payload) {
    auto b = backup::decode_bundle(payload);
    if (!b) return b.error();
    auto st = profile_->db().prepare(
        "INSERT INTO coord_bundles (bundle_id, device_key, sequence, content_type, received_day) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!st) return st.error();
    st->bind_blob(1, b->bundle_id).bind_blob(2, b->device_key);
    st->bind(3, static_cast<int64_t>(b->sequence)).bind(4, int64_t{b->content_type});
    st->bind(5, b->received_day);
    return run(*st, Kind::kBundle);
  }

  Status insert_record(const backup::Record& r, int64_t body_id) {
    auto st = profile_->db().prepare(
        "INSERT INTO coord_records (record_id, bundle_id, device_key, form_id, form_version, "
        "manifest, body_id, received_day, retracted, retraction_hash) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    if (!st) return st.error();
    st->bind(1, r.record_id).bind_blob(2, r.bundle_id).bind_blob(3, r.device_key);
    st->bind(4, r.form_id).bind(5, static_cast<int64_t>(r.form_version)).bind(6, r.manifest);
    st->bind(7, body_id).bind(8, r.received_day).bind(9, int64_t{r.retracted ? 1 : 0});
    if (r.retraction_hash)
      st->bind_blob(10, *r.retraction_hash);
    else
      st->bind_null(10);
    return run(*st, Kind::kRecord);
  }

  Status insert_quarantine(const backup::Quarantined& q, std::optional<int64_t> body_id) {
    auto st = profile_->db().prepare(
        "INSERT INTO coord_quarantine (quarantine_id, reason, bundle_id, device_key, opened, "
        "body_id, received_day, upload_id, waiting_form_id, waiting_form_version, form_hash) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    if (!st) return st.error();
    auto blob_or_null = [&](int i, const std::optional<ByteView>& b) {
      if (b)
        st->bind_blob(i, *b);
      else
        st->bind_null(i);
    };
    st->bind(1, q.quarantine_id).bind(2, q.reason);
    blob_or_null(3, q.bundle_id);
    blob_or_null(4, q.device_key);
    st->bind(5, int64_t{q.opened ? 1 : 0});
    if (body_id)
      st->bind(6, *body_id);
    else
      st->bind_null(6);
    st->bind(7, q.received_day);
    blob_or_null(8, q.upload_id);
    if (q.waiting_form_id)
      st->bind(9, *q.waiting_form_id);
    else
      st->bind_null(9);
    if (q.waiting_form_version)
      st->bind(10, static_cast<int64_t>(*q.waiting_form_version));
    else
      st->bind_null(10);
    blob_or_null(11, q.form_hash);
    return run(*st, Kind::kQuarantine);
  }

  Status apply_retraction(ByteView payload) {
    auto r = backup::decode_retraction(payload);
    if (!r) return r.error();
    auto st = profile_->db().prepare(
        "INSERT INTO coord_retractions (hash, received_day) VALUES (?1, ?2)");
    if (!st) return st.error();
    st->bind_blob(1, r->hash).bind(2, r->received_day);
    return run(*st, Kind::kRetraction);
  }

  Status apply_export(ByteView payload) {
    auto e = backup::decode_export(payload);
    if (!e) return e.error();
    auto st = profile_->db().prepare(
        "INSERT INTO coord_exports (export_id, at, form_id, form_version, format, options, "
        "records) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!st) return st.error();
    st->bind(1, e->export_id).bind(2, e->at).bind(3, e->form_id);
    st->bind(4, static_cast<int64_t>(e->form_version)).bind(5, e->format).bind(6, e->options);
    st->bind(7, static_cast<int64_t>(e->records));
    return run(*st, Kind::kExport);
  }

  // A row repeated in the backup (a key already restored) is a malformed backup, not an I/O
  // error.
  static Status run(client::Statement& st, Kind kind) {
    Status s = st.run();
    if (!s && s.code() == Errc::kAlreadyExists)
      return malformed(std::string("a ") + backup::kind_name(kind) +
                       " record repeats one already restored");
    return s;
  }

  std::string staging_;
  const SecretBytes& passphrase_;
  const RestoreOptions& options_;
  DevicePublicKey sender_;

  State state_ = State::kHead;
  uint8_t head_[backup::kRecordHeaderSize] = {};
  size_t head_len_ = 0;
  Kind kind_ = Kind::kHeader;   // of the record being read
  Kind last_ = Kind::kBody;     // the last record kind other than body (kBody: none yet)
  Kind pending_ = Kind::kBody;  // a record waiting for its body (kBody: none)
  uint64_t left_ = 0;
  SecretBuffer rec_, pending_rec_;
  backup::Counts counts_{};
  uint64_t body_bytes_ = 0;
  int64_t created_at_ = 0;
  std::optional<std::string> last_setting_;
  std::optional<OrgPublicKey> org_;
  std::optional<CoordinatorPublicKey> coordinator_;
  std::optional<client::Profile> profile_;
  std::optional<client::Transaction> tx_;  // declared after profile_: ends first
  std::optional<BodyWriter> body_;
};

struct SplitPath {
  fs::path parent;
  std::string base;
};

Result<SplitPath> split_home(const std::string& home) {
  fs::path p = fs::path(home).lexically_normal();
  if (p.has_filename() == false) p = p.parent_path();  // "dir/" names dir
  const std::string base = p.filename().string();
  if (base.empty() || base == "." || base == "..")
    return make_error(Errc::kInvalidArgument, home + " does not name a directory to create");
  fs::path parent = p.parent_path();
  if (parent.empty()) parent = ".";
  return SplitPath{parent, base};
}

// Moves the staging directory to target unless target exists (RENAME_NOREPLACE; where the file
// system lacks it, a plain rename after checking, which refuses a non-empty target anyway).
int rename_noreplace(const std::string& from, const std::string& target) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  if (::access(target.c_str(), F_OK) == 0) {
    errno = EEXIST;
    return -1;
  }
  return ::rename(from.c_str(), target.c_str());
}

// Removes a staging directory: its keyslots overwritten first, so that whatever the file
// system keeps of the other files stays unreadable, even with the passphrase.
void remove_staging(const std::string& dir) {
  (void)client::shred_file(client::keyslots_path(dir));
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace

Status check_restore_target(const std::string& home) {
  std::error_code ec;
  const auto st = fs::symlink_status(home, ec);
  if (ec && ec != std::errc::no_such_file_or_directory)
    return make_error(Errc::kIoError, "cannot check " + home + ": " + ec.message());
  if (!fs::exists(st)) return Status::Ok();
  if (fs::is_directory(st) && fs::is_empty(home, ec) && !ec) return Status::Ok();
  return make_error(Errc::kAlreadyExists,
                    home +
                        " already exists and is not an empty directory: a restore makes a new "
                        "profile and never writes into an existing one (give --home)");
}

Result<VerifiedBackup> VerifiedBackup::verify(RandomAccessSource& src, const BackupSecretKey& key) {
  auto b = verify_bundle(src, key.x25519(), std::nullopt);
  if (!b) return b.error();
  const BundleMetadata& m = b->metadata();
  if (m.content_type != ContentType::kBackup || !m.form_id.empty())
    return make_error(Errc::kBackupNotABackup,
                      "this bundle opens with the backup key but is not a coordinator backup "
                      "(content type " +
                          std::to_string(static_cast<int>(m.content_type)) + ")");
  return VerifiedBackup(std::move(b.value()));
}

Status VerifiedBackup::check_sender(const CoordinatorPublicKey& expect) const {
  if (expect.x25519 == sender().x25519) return Status::Ok();
  return make_error(
      Errc::kBackupUnexpectedCoordinator,
      "the backup was sealed by another coordinator key than the expected " + expect.fingerprint());
}

Result<RestoreSummary> VerifiedBackup::restore_to(const SecretBytes& passphrase,
                                                  const RestoreOptions& o) {
  SATCHEL_TRY(check_restore_target(o.home));
  if (o.expect) SATCHEL_TRY(check_sender(*o.expect));
  auto where = split_home(o.home);
  if (!where) return where.error();
  std::error_code ec;
  fs::create_directories(where->parent, ec);
  if (ec)
    return make_error(Errc::kIoError,
                      "cannot create " + where->parent.string() + ": " + ec.message());
  std::string staging = (where->parent / ("." + where->base + ".restore-XXXXXX")).string();
  if (::mkdtemp(staging.data()) == nullptr)
    return make_error(Errc::kIoError,
                      "cannot create a directory beside " + o.home + ": " + std::strerror(errno));

  RestoreSink sink(staging, passphrase, o, sender());
  auto fail = [&](const Error& e) -> Result<RestoreSummary> {
    sink.abandon();
    remove_staging(staging);
    return e;
  };
  if (Status s = bundle_.decrypt_to(sink); !s) return fail(s.error());
  auto summary = sink.finish();
  if (!summary) return fail(summary.error());
  // Complete and closed: it takes the place of home, which must still be absent (or empty).
  const std::string target = (where->parent / where->base).string();
  if (Status s = check_restore_target(target); !s) return fail(s.error());
  (void)::rmdir(target.c_str());  // an empty directory given as home
  if (rename_noreplace(staging, target) != 0) {
    const int err = errno;
    return fail(err == EEXIST || err == ENOTEMPTY
                    ? make_error(Errc::kAlreadyExists, o.home + " appeared during the restore")
                    : make_error(Errc::kIoError, "cannot move the restored profile to " + o.home +
                                                     ": " + std::strerror(err)));
  }
  SATCHEL_TRY(client::sync_directory(where->parent.string()));
  return summary;
}

}  // namespace satchel::coord
