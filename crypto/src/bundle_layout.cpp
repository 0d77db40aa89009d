#include "bundle_layout.h"

#include <cstring>

#include "satchel/crypto/sha256.h"

namespace satchel {

bool content_type_known(uint8_t v) {
  return v >= 1 && v <= 6;
}

uint64_t padme_padded_length(uint64_t length) {
  if (length > (uint64_t{1} << 62)) return UINT64_MAX;  // beyond any valid bundle
  uint64_t l = std::max(length, kBundlePaddingFloor);
  // E = floor(log2 L); S = floor(log2 E) + 1; the low E - S bits are rounded up.
  int e = 63 - __builtin_clzll(l);
  int s = 32 - __builtin_clz(static_cast<unsigned>(e));
  int last_bits = e - s;
  uint64_t mask = (uint64_t{1} << last_bits) - 1;
  return (l + mask) & ~mask;
}

uint64_t bundle_size_for(uint64_t body_length, uint16_t slot_count, size_t form_id_len) {
  if (body_length > kBundleMaxPadded || form_id_len > kBundleFormIdMax) return UINT64_MAX;
  uint64_t padded = padme_padded_length(bundle_v1::kInnerFixedLen + form_id_len + body_length);
  return bundle_v1::total_len(slot_count, padded);
}

namespace bundle_v1 {

void slot_key(const uint8_t dh[32], const uint8_t eph_pub[32], const uint8_t recipient[32],
              uint8_t out[32]) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, dh, 32, 32);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(kSlotDomain.data()),
                            kSlotDomain.size());
  crypto_generichash_update(&st, eph_pub, 32);
  crypto_generichash_update(&st, recipient, 32);
  crypto_generichash_final(&st, out, 32);
  sodium_memzero(&st, sizeof st);
}

void sender_authenticator(const uint8_t dh_static[32], const uint8_t dh_eph[32],
                          const Hash32& header_hash, uint16_t index, const uint8_t device[32],
                          const uint8_t recipient[32], const Hash32& content_hash,
                          uint8_t out[32]) {
  uint8_t mac_key[32];
  crypto_generichash_state st;
  crypto_generichash_init(&st, dh_static, 32, 32);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(kSenderDomain.data()),
                            kSenderDomain.size());
  crypto_generichash_update(&st, dh_eph, 32);
  crypto_generichash_update(&st, header_hash.data(), header_hash.size());
  const uint8_t idx[2] = {static_cast<uint8_t>(index), static_cast<uint8_t>(index >> 8)};
  crypto_generichash_update(&st, idx, 2);
  crypto_generichash_update(&st, device, 32);
  crypto_generichash_update(&st, recipient, 32);
  crypto_generichash_final(&st, mac_key, 32);

  crypto_generichash_init(&st, mac_key, 32, 32);
  crypto_generichash_update(&st, header_hash.data(), header_hash.size());
  crypto_generichash_update(&st, content_hash.data(), content_hash.size());
  crypto_generichash_final(&st, out, 32);
  sodium_memzero(&st, sizeof st);
  sodium_memzero(mac_key, sizeof mac_key);
}

void header_mac(const uint8_t key[32], ByteView header_without_mac, uint8_t out[32]) {
  crypto_generichash(out, 32, header_without_mac.data(), header_without_mac.size(), key, 32);
}

void trailer_mac(const uint8_t key[32], const Hash32& header_hash, ByteView authenticators,
                 uint8_t out[32]) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, key, 32, 32);
  crypto_generichash_update(&st, header_hash.data(), header_hash.size());
  crypto_generichash_update(&st, authenticators.data(), authenticators.size());
  crypto_generichash_final(&st, out, 32);
}

namespace {
bool form_id_char_ok(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

Status check_form_fields(const std::string& form_id, uint64_t form_version, const Hash32& form_hash,
                         Errc code) {
  if (form_id.size() > kBundleFormIdMax) return make_error(code, "form id longer than 64 bytes");
  for (char c : form_id)
    if (!form_id_char_ok(c))
      return make_error(code, "form id has a character outside [A-Za-z0-9._-]");
  bool zero_hash = sodium_is_zero(form_hash.data(), form_hash.size()) == 1;
  if (form_id.empty() && (form_version != 0 || !zero_hash))
    return make_error(code, "form version or hash set without a form id");
  return Status::Ok();
}
}  // namespace

Status validate_metadata(const BundleMetadata& meta) {
  if (!content_type_known(static_cast<uint8_t>(meta.content_type)))
    return make_error(Errc::kInvalidArgument, "unknown content type");
  return check_form_fields(meta.form_id, meta.form_version, meta.form_hash, Errc::kInvalidArgument);
}

Bytes encode_inner(const BundleMetadata& meta, const DevicePublicKey& device) {
  WireWriter w;
  w.bytes(device.x25519);
  w.bytes(meta.bundle_id);
  w.u64(meta.sequence);
  w.u64(static_cast<uint64_t>(meta.created_at));
  w.bytes(meta.org_id);
  w.u64(meta.roster_version);
  w.u8(static_cast<uint8_t>(meta.content_type));
  w.u8(0);  // inner flags: none defined in v1 (evidence-mode signature reserved)
  w.bytes(meta.form_hash);
  w.u64(meta.form_version);
  w.u8(static_cast<uint8_t>(meta.form_id.size()));
  w.bytes(as_bytes(meta.form_id));
  w.u64(meta.body_length);
  return w.take();
}

Result<ParsedInner> parse_inner(ByteView first_chunk, uint64_t padded) {
  auto bad = [](const std::string& what) {
    return make_error(Errc::kBundleMalformedInner, "malformed inner header: " + what);
  };
  WireReader r(first_chunk);
  ParsedInner p;
  uint64_t created = 0;
  uint8_t type = 0, flags = 0, form_id_len = 0;
  if (!r.array(p.device.x25519) || !r.array(p.meta.bundle_id) || !r.u64(p.meta.sequence) ||
      !r.u64(created) || !r.array(p.meta.org_id) || !r.u64(p.meta.roster_version) || !r.u8(type) ||
      !r.u8(flags) || !r.array(p.meta.form_hash) || !r.u64(p.meta.form_version) ||
      !r.u8(form_id_len)) {
    return bad("too short");
  }
  p.meta.created_at = static_cast<int64_t>(created);
  if (flags != 0) return bad("unknown inner flags");
  if (!content_type_known(type))
    return make_error(Errc::kBundleUnknownContentType,
                      "unknown content type " + std::to_string(type));
  p.meta.content_type = static_cast<ContentType>(type);
  if (form_id_len > kBundleFormIdMax) return bad("form id longer than 64 bytes");
  p.meta.form_id.resize(form_id_len);
  if (!r.bytes(
          std::span<uint8_t>(reinterpret_cast<uint8_t*>(p.meta.form_id.data()), form_id_len)) ||
      !r.u64(p.meta.body_length)) {
    return bad("too short");
  }
  Status s = check_form_fields(p.meta.form_id, p.meta.form_version, p.meta.form_hash,
                               Errc::kBundleMalformedInner);
  if (!s) return s.error();
  if (sodium_is_zero(p.device.x25519.data(), 32) == 1) return bad("zero device key");
  if (const char* why = x25519_noncanonical_reason(p.device.x25519))
    return make_error(
        Errc::kBundleKeyNotCanonical,
        std::string("the sender's device key is not a canonical X25519 encoding: ") + why);
  p.length = r.position();
  if (p.meta.body_length > padded - p.length) return bad("body length exceeds the padded payload");
  return p;
}

}  // namespace bundle_v1
}  // namespace satchel
