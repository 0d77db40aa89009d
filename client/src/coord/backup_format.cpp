#include "coord/backup_format.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "satchel/crypto/bundle.h"
#include "satchel/crypto/keys.h"

namespace satchel::coord::backup {

namespace {

Error malformed(Kind k, const std::string& what) {
  return make_error(Errc::kBackupMalformed,
                    std::string("backup ") + kind_name(k) + " record: " + what);
}

bool form_id_shaped(std::string_view s) {
  return !s.empty() && s.size() <= kBundleFormIdMax && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

bool lower_hex(std::string_view s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A 32-byte X25519 public key in its one canonical encoding (bundle-format.md).
bool canonical_key(ByteView b) {
  if (b.size() != 32) return false;
  Key32 k;
  std::memcpy(k.data(), b.data(), 32);
  return x25519_noncanonical_reason(k) == nullptr;
}

bool sized(const std::optional<ByteView>& b, size_t n) {
  return !b || b->size() == n;
}

// Decodes with `read`, then requires every payload byte used and check() passed.
template <class T, class F>
Result<T> decode(Kind k, ByteView payload, F read) {
  FieldReader r(payload);
  T v = read(r);
  if (!r.ok()) return malformed(k, "a field runs past the end of the record");
  if (!r.at_end()) return malformed(k, "bytes after its last field");
  if constexpr (!std::is_same_v<T, Key> && !std::is_same_v<T, End>) SATCHEL_TRY(check(v));
  return v;
}

// Optional fields.
void put(FieldWriter& w, const std::optional<ByteView>& b) {
  w.present(b.has_value());
  if (b) w.fixed(*b);
}
void put_text(FieldWriter& w, const std::optional<std::string_view>& s) {
  w.present(s.has_value());
  if (s) w.str(*s);
}
void put(FieldWriter& w, const std::optional<uint64_t>& v) {
  w.present(v.has_value());
  if (v) w.u64(*v);
}
std::optional<ByteView> get_fixed(FieldReader& r, size_t n) {
  if (!r.flag()) return std::nullopt;
  return r.fixed(n);
}
std::optional<std::string_view> get_text(FieldReader& r) {
  if (!r.flag()) return std::nullopt;
  return r.text();
}
std::optional<uint64_t> get_u64(FieldReader& r) {
  if (!r.flag()) return std::nullopt;
  return r.u64();
}

}  // namespace

bool kind_known(uint8_t v) {
  return v >= static_cast<uint8_t>(Kind::kHeader) && v <= static_cast<uint8_t>(Kind::kEnd);
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kHeader:
      return "header";
    case Kind::kKey:
      return "key";
    case Kind::kSetting:
      return "setting";
    case Kind::kForm:
      return "form";
    case Kind::kDevice:
      return "device";
    case Kind::kBundle:
      return "bundle";
    case Kind::kRecord:
      return "record";
    case Kind::kQuarantine:
      return "quarantine";
    case Kind::kRetraction:
      return "retraction";
    case Kind::kExport:
      return "export";
    case Kind::kBody:
      return "body";
    case Kind::kEnd:
      return "end";
  }
  return "unknown";
}

// --- SecretBuffer ---

void SecretBuffer::clear() {
  if (len_) sodium_memzero(buf_.data(), len_);
  len_ = 0;
}

uint8_t* SecretBuffer::extend(size_t n) {
  if (buf_.size() - len_ < n) {
    SecretBytes bigger(std::max({buf_.size() * 2, len_ + n, size_t{4096}}));
    if (len_) std::memcpy(bigger.data(), buf_.data(), len_);
    buf_ = std::move(bigger);  // the old bytes are wiped as they are freed
  }
  uint8_t* at = buf_.data() + len_;
  len_ += n;
  return at;
}

void SecretBuffer::swap(SecretBuffer& o) noexcept {
  std::swap(buf_, o.buf_);
  std::swap(len_, o.len_);
}

void begin_record(SecretBuffer& out, Kind kind, size_t& start) {
  start = out.size();
  uint8_t* h = out.extend(kRecordHeaderSize);
  h[0] = static_cast<uint8_t>(kind);
  std::memset(h + 1, 0, 8);
}

void finish_record(SecretBuffer& out, size_t start) {
  const uint64_t len = out.size() - start - kRecordHeaderSize;
  for (int i = 0; i < 8; i++) out.data()[start + 1 + i] = static_cast<uint8_t>(len >> (8 * i));
}

// --- fields ---

void FieldWriter::u32(uint32_t v) {
  uint8_t* p = out_.extend(4);
  for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void FieldWriter::u64(uint64_t v) {
  uint8_t* p = out_.extend(8);
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void FieldWriter::str(ByteView b) {
  u32(static_cast<uint32_t>(b.size()));  // callers keep fields under the record limit
  out_.append(b);
}

ByteView FieldReader::take(size_t n) {
  if (!ok_ || in_.size() - pos_ < n) {
    ok_ = false;
    return {};
  }
  ByteView b = in_.subspan(pos_, n);
  pos_ += n;
  return b;
}

uint8_t FieldReader::u8() {
  ByteView b = take(1);
  return ok_ ? b[0] : 0;
}

uint32_t FieldReader::u32() {
  ByteView b = take(4);
  uint32_t v = 0;
  if (ok_)
    for (int i = 3; i >= 0; i--) v = (v << 8) | b[static_cast<size_t>(i)];
  return v;
}

uint64_t FieldReader::u64() {
  ByteView b = take(8);
  uint64_t v = 0;
  if (ok_)
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[static_cast<size_t>(i)];
  return v;
}

ByteView FieldReader::str() {
  const uint32_t n = u32();
  return take(n);
}

ByteView FieldReader::fixed(size_t n) {
  return take(n);
}

bool FieldReader::flag() {
  const uint8_t v = u8();
  if (v > 1) ok_ = false;
  return ok_ && v == 1;
}

// --- rules ---

bool setting_backed_up(std::string_view name) {
  if (name == "profile_kind" || name == "coordinator_secret_key" || name == "device_secret_key" ||
      name == "next_sequence")
    return false;
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

Status check(const Header& h) {
  if (h.format_version != kFormatVersion)
    return make_error(Errc::kBackupUnsupportedVersion,
                      "backup format version " + std::to_string(h.format_version) +
                          " (this Satchel reads version " + std::to_string(kFormatVersion) + ")");
  return Status::Ok();
}

Status check(const Setting& s) {
  if (!setting_backed_up(s.name))
    return malformed(Kind::kSetting,
                     "a setting a backup does not carry (its name is reserved or "
                     "not of the shape [a-z0-9._-]{1,64})");
  return Status::Ok();
}

Status check(const Form& f) {
  if (!form_id_shaped(f.form_id)) return malformed(Kind::kForm, "the form id is not a form id");
  if (f.package.empty()) return malformed(Kind::kForm, "an empty signed package");
  return Status::Ok();
}

Status check(const Device& d) {
  if (!canonical_key(d.key))
    return malformed(Kind::kDevice, "the device key is not a canonical X25519 key");
  if (d.label && (d.label->empty() || d.label->size() > 64))
    return malformed(Kind::kDevice, "a label is 1 to 64 bytes");
  return Status::Ok();
}

Status check(const BundleSeen& b) {
  if (b.bundle_id.size() != sizeof(BundleId) || !canonical_key(b.device_key))
    return malformed(Kind::kBundle, "a bundle id or device key of the wrong shape");
  if (!content_type_known(b.content_type))
    return malformed(Kind::kBundle, "content type " + std::to_string(b.content_type));
  return Status::Ok();
}

Status check(const Record& r) {
  if (!lower_hex(r.record_id, 32))
    return malformed(Kind::kRecord, "the record id is not 32 lower-case hex digits");
  if (r.bundle_id.size() != sizeof(BundleId) || !canonical_key(r.device_key))
    return malformed(Kind::kRecord, "a bundle id or device key of the wrong shape");
  if (!form_id_shaped(r.form_id)) return malformed(Kind::kRecord, "the form id is not a form id");
  if (r.manifest.empty()) return malformed(Kind::kRecord, "an empty manifest");
  if (!sized(r.retraction_hash, 32))
    return malformed(Kind::kRecord, "a retraction hash is 32 bytes");
  return Status::Ok();
}

Status check(const Quarantined& q) {
  if (q.quarantine_id < 1) return malformed(Kind::kQuarantine, "the entry number is below 1");
  if (q.reason.empty()) return malformed(Kind::kQuarantine, "an empty reason");
  if (!sized(q.bundle_id, sizeof(BundleId)) || (q.device_key && !canonical_key(*q.device_key)) ||
      !sized(q.upload_id, 32) || !sized(q.form_hash, 32))
    return malformed(Kind::kQuarantine, "an id, key or hash of the wrong shape");
  if (q.waiting_form_id && !form_id_shaped(*q.waiting_form_id))
    return malformed(Kind::kQuarantine, "the waiting form id is not a form id");
  return Status::Ok();
}

Status check(const Retraction& r) {
  if (r.hash.size() != 32) return malformed(Kind::kRetraction, "a retraction hash is 32 bytes");
  return Status::Ok();
}

Status check(const Export& e) {
  if (e.export_id < 1) return malformed(Kind::kExport, "the export number is below 1");
  if (!form_id_shaped(e.form_id)) return malformed(Kind::kExport, "the form id is not a form id");
  if (e.format.empty() || e.format.size() > 16)
    return malformed(Kind::kExport, "a format name is 1 to 16 bytes");
  return Status::Ok();
}

// --- records ---

namespace {

// Runs `fields` between the record's header and its length.
template <class F>
void record(SecretBuffer& out, Kind kind, F fields) {
  size_t start = 0;
  begin_record(out, kind, start);
  FieldWriter w(out);
  fields(w);
  finish_record(out, start);
}

}  // namespace

void encode(const Header& h, SecretBuffer& out) {
  record(out, Kind::kHeader, [&](FieldWriter& w) {
    w.u32(h.format_version);
    w.i64(h.created_at);
    w.u32(h.schema_version);
  });
}

void encode(const Key& k, SecretBuffer& out) {
  record(out, Kind::kKey, [&](FieldWriter& w) { w.str(k.secret_text); });
}

void encode(const Setting& s, SecretBuffer& out) {
  record(out, Kind::kSetting, [&](FieldWriter& w) {
    w.str(s.name);
    w.str(s.value);
  });
}

void encode(const Form& f, SecretBuffer& out) {
  record(out, Kind::kForm, [&](FieldWriter& w) {
    w.str(f.form_id);
    w.u64(f.version);
    w.str(f.package);
  });
}

void encode(const Device& d, SecretBuffer& out) {
  record(out, Kind::kDevice, [&](FieldWriter& w) {
    w.fixed(d.key);
    put_text(w, d.label);
    w.i64(d.first_day);
    w.i64(d.last_day);
    put(w, d.lost_after);
  });
}

void encode(const BundleSeen& b, SecretBuffer& out) {
  record(out, Kind::kBundle, [&](FieldWriter& w) {
    w.fixed(b.bundle_id);
    w.fixed(b.device_key);
    w.u64(b.sequence);
    w.u8(b.content_type);
    w.i64(b.received_day);
  });
}

void encode(const Record& r, SecretBuffer& out) {
  record(out, Kind::kRecord, [&](FieldWriter& w) {
    w.str(r.record_id);
    w.fixed(r.bundle_id);
    w.fixed(r.device_key);
    w.str(r.form_id);
    w.u64(r.form_version);
    w.str(r.manifest);
    w.i64(r.received_day);
    w.present(r.retracted);
    put(w, r.retraction_hash);
  });
}

void encode(const Quarantined& q, SecretBuffer& out) {
  record(out, Kind::kQuarantine, [&](FieldWriter& w) {
    w.i64(q.quarantine_id);
    w.str(q.reason);
    put(w, q.bundle_id);
    put(w, q.device_key);
    w.present(q.opened);
    w.i64(q.received_day);
    put(w, q.upload_id);
    put_text(w, q.waiting_form_id);
    put(w, q.waiting_form_version);
    put(w, q.form_hash);
    w.present(q.has_body);
  });
}

void encode(const Retraction& r, SecretBuffer& out) {
  record(out, Kind::kRetraction, [&](FieldWriter& w) {
    w.fixed(r.hash);
    w.i64(r.received_day);
  });
}

void encode(const Export& e, SecretBuffer& out) {
  record(out, Kind::kExport, [&](FieldWriter& w) {
    w.i64(e.export_id);
    w.i64(e.at);
    w.str(e.form_id);
    w.u64(e.form_version);
    w.str(e.format);
    w.str(e.options);
    w.u64(e.records);
  });
}

void encode(const End& e, SecretBuffer& out) {
  record(out, Kind::kEnd, [&](FieldWriter& w) {
    for (uint64_t c : e.counts) w.u64(c);
  });
}

void encode_body_header(uint64_t length, SecretBuffer& out) {
  size_t start = 0;
  begin_record(out, Kind::kBody, start);
  for (int i = 0; i < 8; i++) out.data()[start + 1 + i] = static_cast<uint8_t>(length >> (8 * i));
}

Result<Header> decode_header(ByteView payload) {
  // The version comes first and is judged first: a later version may lay out the rest anew.
  FieldReader first(payload);
  Header v;
  v.format_version = first.u32();
  if (first.ok()) SATCHEL_TRY(check(v));
  return decode<Header>(Kind::kHeader, payload, [](FieldReader& r) {
    Header h;
    h.format_version = r.u32();
    h.created_at = r.i64();
    h.schema_version = r.u32();
    return h;
  });
}

Result<Key> decode_key(ByteView payload) {
  return decode<Key>(Kind::kKey, payload, [](FieldReader& r) { return Key{r.str()}; });
}

Result<Setting> decode_setting(ByteView payload) {
  return decode<Setting>(Kind::kSetting, payload, [](FieldReader& r) {
    Setting s;
    s.name = r.text();
    s.value = r.str();
    return s;
  });
}

Result<Form> decode_form(ByteView payload) {
  return decode<Form>(Kind::kForm, payload, [](FieldReader& r) {
    Form f;
    f.form_id = r.text();
    f.version = r.u64();
    f.package = r.text();
    return f;
  });
}

Result<Device> decode_device(ByteView payload) {
  return decode<Device>(Kind::kDevice, payload, [](FieldReader& r) {
    Device d;
    d.key = r.fixed(32);
    d.label = get_text(r);
    d.first_day = r.i64();
    d.last_day = r.i64();
    d.lost_after = get_u64(r);
    return d;
  });
}

Result<BundleSeen> decode_bundle(ByteView payload) {
  return decode<BundleSeen>(Kind::kBundle, payload, [](FieldReader& r) {
    BundleSeen b;
    b.bundle_id = r.fixed(sizeof(BundleId));
    b.device_key = r.fixed(32);
    b.sequence = r.u64();
    b.content_type = r.u8();
    b.received_day = r.i64();
    return b;
  });
}

Result<Record> decode_record(ByteView payload) {
  return decode<Record>(Kind::kRecord, payload, [](FieldReader& r) {
    Record rec;
    rec.record_id = r.text();
    rec.bundle_id = r.fixed(sizeof(BundleId));
    rec.device_key = r.fixed(32);
    rec.form_id = r.text();
    rec.form_version = r.u64();
    rec.manifest = r.text();
    rec.received_day = r.i64();
    rec.retracted = r.flag();
    rec.retraction_hash = get_fixed(r, 32);
    return rec;
  });
}

Result<Quarantined> decode_quarantine(ByteView payload) {
  return decode<Quarantined>(Kind::kQuarantine, payload, [](FieldReader& r) {
    Quarantined q;
    q.quarantine_id = r.i64();
    q.reason = r.text();
    q.bundle_id = get_fixed(r, sizeof(BundleId));
    q.device_key = get_fixed(r, 32);
    q.opened = r.flag();
    q.received_day = r.i64();
    q.upload_id = get_fixed(r, 32);
    q.waiting_form_id = get_text(r);
    q.waiting_form_version = get_u64(r);
    q.form_hash = get_fixed(r, 32);
    q.has_body = r.flag();
    return q;
  });
}

Result<Retraction> decode_retraction(ByteView payload) {
  return decode<Retraction>(Kind::kRetraction, payload, [](FieldReader& r) {
    Retraction x;
    x.hash = r.fixed(32);
    x.received_day = r.i64();
    return x;
  });
}

Result<Export> decode_export(ByteView payload) {
  return decode<Export>(Kind::kExport, payload, [](FieldReader& r) {
    Export e;
    e.export_id = r.i64();
    e.at = r.i64();
    e.form_id = r.text();
    e.form_version = r.u64();
    e.format = r.text();
    e.options = r.text();
    e.records = r.u64();
    return e;
  });
}

Result<End> decode_end(ByteView payload) {
  return decode<End>(Kind::kEnd, payload, [](FieldReader& r) {
    End e;
    for (uint64_t& c : e.counts) c = r.u64();
    return e;
  });
}

}  // namespace satchel::coord::backup
