// The plaintext of a coordinator backup (schema/coordinator-backup.md): record framing, the
// fields of each record kind, and the rules a record must satisfy. The writer and the restore
// both go through these functions, so a backup never carries what a restore would refuse.
// Nothing here touches a profile or a file.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/secret.h"
#include "satchel/crypto/status.h"

namespace satchel::coord::backup {

inline constexpr uint32_t kFormatVersion = 1;
// kind (u8) || payload length (u64)
inline constexpr size_t kRecordHeaderSize = 9;
// Every kind but body: bounds what a reader holds in memory at once.
inline constexpr uint64_t kMaxRecordPayload = uint64_t{16} << 20;
// A body: the largest body a bundle can carry.
inline constexpr uint64_t kMaxBodyPayload = uint64_t{1} << 40;

// Record kinds, in the order they must appear (body only right after the record it belongs to).
enum class Kind : uint8_t {
  kHeader = 1,
  kKey = 2,
  kSetting = 3,
  kForm = 4,
  kDevice = 5,
  kBundle = 6,
  kRecord = 7,
  kQuarantine = 8,
  kRetraction = 9,
  kExport = 10,
  kBody = 11,
  kEnd = 12,
};
bool kind_known(uint8_t v);
// "setting", "quarantine", … for messages.
const char* kind_name(Kind k);

// The end record counts the records of kinds kSetting … kBody, in that order.
inline constexpr size_t kCountedKinds = 9;
inline bool counted(Kind k) {
  return k >= Kind::kSetting && k <= Kind::kBody;
}
inline size_t count_index(Kind k) {
  return static_cast<size_t>(k) - static_cast<size_t>(Kind::kSetting);
}
using Counts = std::array<uint64_t, kCountedKinds>;

// Secret memory that grows as needed: one encoded record at a time. clear() wipes it.
class SecretBuffer {
 public:
  void clear();
  // Appends n bytes (uninitialised) and returns where they start.
  uint8_t* extend(size_t n);
  void append(ByteView b) {
    if (!b.empty()) std::copy(b.begin(), b.end(), extend(b.size()));
  }
  size_t size() const { return len_; }
  ByteView view() const { return ByteView(buf_.data(), len_); }
  uint8_t* data() { return buf_.data(); }
  void swap(SecretBuffer& o) noexcept;

 private:
  SecretBytes buf_;
  size_t len_ = 0;
};

// Starts a record of `kind` at the end of `out`; finish_record() fills in its payload length.
void begin_record(SecretBuffer& out, Kind kind, size_t& start);
void finish_record(SecretBuffer& out, size_t start);

// Field encodings: integers little-endian, 8 bytes (i64 as two's complement); str = u32
// length || bytes; fixed = the bytes alone (their length is the field's); opt = u8 0 (absent)
// or 1 (present) || the value.
class FieldWriter {
 public:
  explicit FieldWriter(SecretBuffer& out) : out_(out) {}
  void u8(uint8_t v) { *out_.extend(1) = v; }
  void u32(uint32_t v);
  void u64(uint64_t v);
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void str(ByteView b);
  void str(std::string_view s) { str(as_bytes(s)); }
  void fixed(ByteView b) { out_.append(b); }
  void present(bool p) { u8(p ? 1 : 0); }

 private:
  SecretBuffer& out_;
};

// Reads fields in place; a read past the end, or a presence or flag byte other than 0 or 1,
// makes ok() false and every later read return zeros.
class FieldReader {
 public:
  explicit FieldReader(ByteView in) : in_(in) {}
  uint8_t u8();
  uint32_t u32();
  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  ByteView str();
  std::string_view text() {
    ByteView b = str();
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  ByteView fixed(size_t n);
  bool flag();  // a byte that must be 0 or 1
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  ByteView take(size_t n);
  ByteView in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// One struct per record kind; views point into the buffer or row they were read from.
struct Header {
  uint32_t format_version = kFormatVersion;
  int64_t created_at = 0;
  uint32_t schema_version = 0;  // the source database's user_version (informational)
};
struct Key {
  ByteView secret_text;  // "coordsec-…"
};
struct Setting {
  std::string_view name;
  ByteView value;
};
struct Form {
  std::string_view form_id;
  uint64_t version = 0;
  std::string_view package;
};
struct Device {
  ByteView key;  // 32
  std::optional<std::string_view> label;
  int64_t first_day = 0, last_day = 0;
  std::optional<uint64_t> lost_after;
};
struct BundleSeen {
  ByteView bundle_id;   // 16
  ByteView device_key;  // 32
  uint64_t sequence = 0;
  uint8_t content_type = 0;
  int64_t received_day = 0;
};
struct Record {
  std::string_view record_id;
  ByteView bundle_id, device_key;
  std::string_view form_id;
  uint64_t form_version = 0;
  std::string_view manifest;
  int64_t received_day = 0;
  bool retracted = false;
  std::optional<ByteView> retraction_hash;  // 32
};
struct Quarantined {
  int64_t quarantine_id = 0;
  std::string_view reason;
  std::optional<ByteView> bundle_id, device_key;
  bool opened = false;
  int64_t received_day = 0;
  std::optional<ByteView> upload_id;
  std::optional<std::string_view> waiting_form_id;
  std::optional<uint64_t> waiting_form_version;
  std::optional<ByteView> form_hash;
  bool has_body = false;  // a body record follows
};
struct Retraction {
  ByteView hash;  // 32
  int64_t received_day = 0;
};
struct Export {
  int64_t export_id = 0, at = 0;
  std::string_view form_id;
  uint64_t form_version = 0;
  std::string_view format, options;
  uint64_t records = 0;
};
struct End {
  Counts counts{};
};

// Checks a record's fields against the rules of its kind (kBackupMalformed naming the kind and
// the field; kBackupUnsupportedVersion for a header of another format version).
Status check(const Header& h);
Status check(const Setting& s);
Status check(const Form& f);
Status check(const Device& d);
Status check(const BundleSeen& b);
Status check(const Record& r);
Status check(const Quarantined& q);
Status check(const Retraction& r);
Status check(const Export& e);

// Appends the whole record (header and payload) to out.
void encode(const Header& h, SecretBuffer& out);
void encode(const Key& k, SecretBuffer& out);
void encode(const Setting& s, SecretBuffer& out);
void encode(const Form& f, SecretBuffer& out);
void encode(const Device& d, SecretBuffer& out);
void encode(const BundleSeen& b, SecretBuffer& out);
void encode(const Record& r, SecretBuffer& out);
void encode(const Quarantined& q, SecretBuffer& out);
void encode(const Retraction& r, SecretBuffer& out);
void encode(const Export& e, SecretBuffer& out);
void encode(const End& e, SecretBuffer& out);
// The header of a body record of `length` bytes (the bytes follow it).
void encode_body_header(uint64_t length, SecretBuffer& out);

// Decode a payload of the kind and apply check(): kBackupMalformed when the fields do not
// fill the payload exactly or break a rule.
Result<Header> decode_header(ByteView payload);
Result<Key> decode_key(ByteView payload);
Result<Setting> decode_setting(ByteView payload);
Result<Form> decode_form(ByteView payload);
Result<Device> decode_device(ByteView payload);
Result<BundleSeen> decode_bundle(ByteView payload);
Result<Record> decode_record(ByteView payload);
Result<Quarantined> decode_quarantine(ByteView payload);
Result<Retraction> decode_retraction(ByteView payload);
Result<Export> decode_export(ByteView payload);
Result<End> decode_end(ByteView payload);

// Whether a setting of this name belongs in a backup: not the ones a restore sets itself
// (profile_kind, coordinator_secret_key) nor a field profile's (device_secret_key,
// next_sequence), and shaped [a-z0-9._-]{1,64}.
bool setting_backed_up(std::string_view name);

}  // namespace satchel::coord::backup
