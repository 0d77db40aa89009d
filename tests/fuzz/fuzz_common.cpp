// Fixed keys, replayable randomness and the plan framings shared by the fuzz targets and seeds.
#include "fuzz_common.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace satchel::fuzz {
namespace {

// Generated once with the *::generate() functions. Test keys: never use them for anything else.
constexpr std::string_view kOrgSecret =
    "orgsec-fl5lxf2ndrduagsrpnj6kr7bxlmkcfzsk75xlp22cgr2ksa4xjp7tcswscrq";
constexpr std::string_view kCoordinatorSecret =
    "coordsec-"
    "n2y45gl74jiviev2uhjo6zpgpcsv6jbepfcyriys2viguzznsi72tomhgguujaqgxaacjf445riybsg3rpay62fkcjwpkx"
    "dwhz4re6xhjmuzvcy";
constexpr std::string_view kOtherCoordinatorSecret =
    "coordsec-"
    "llepfggm4cck6nw4tgh2347uhxlpvxhc6baqjqh4u7twwkbtsjttyfriyzqla2ez3o6ohm6htucdaiacrki2kr7ifafomx"
    "25igrkbfiddbup62i";
constexpr std::string_view kDeviceSecret =
    "devsec-izlp5qn5h64bbfbmts66jba6bw2r7c2rvxz7bie6icawxpcalcpfvtjwfu2a";
constexpr std::string_view kOtherDeviceSecret =
    "devsec-uf5rzyknesig64zqgt7pupchoalecmmmt64czybyvmcvrlon6ntfk7fguzma";

template <class K>
K parse_key(std::string_view text) {
  auto k = K::from_text(as_bytes(text));
  if (!k) fail("a hard-coded fuzz key no longer parses");
  return std::move(k).value();
}

// --- replayable random source ---

constexpr uint8_t kRandomKey[crypto_stream_chacha20_ietf_KEYBYTES] = {0x5a, 0x7c, 0x4e, 0x11};
uint64_t g_random_calls = 0;

const char* random_name() {
  return "satchel-fuzz-replayable";
}

// Each request gets its own nonce (the call number), so results depend only on the call order.
void random_buf(void* const out, const size_t n) {
  if (n == 0) return;
  uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {};
  for (size_t i = 0; i < 8; i++) nonce[i] = static_cast<uint8_t>(g_random_calls >> (8 * i));
  g_random_calls++;
  crypto_stream_chacha20_ietf(static_cast<uint8_t*>(out), n, nonce, kRandomKey);
}

uint32_t random_u32() {
  uint32_t v = 0;
  random_buf(&v, sizeof v);
  return v;
}

randombytes_implementation g_replayable = {random_name, random_u32, nullptr,
                                           nullptr,     random_buf, nullptr};

// --- little-endian plan fields; reads past the end give zero ---

class PlanReader {
 public:
  explicit PlanReader(ByteView in) : in_(in) {}
  uint8_t u8() { return pos_ < in_.size() ? in_[pos_++] : 0; }
  uint32_t le(int bytes) {
    uint32_t v = 0;
    for (int i = 0; i < bytes; i++) v |= static_cast<uint32_t>(u8()) << (8 * i);
    return v;
  }
  Bytes take(size_t n) {
    n = std::min(n, in_.size() - pos_);
    Bytes out(in_.begin() + static_cast<std::ptrdiff_t>(pos_),
              in_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return out;
  }
  Bytes rest() { return take(in_.size() - pos_); }

 private:
  ByteView in_;
  size_t pos_ = 0;
};

void put_le(Bytes& out, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; i++) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

std::string_view armor_prefix(DocType t) {
  switch (t) {
    case DocType::kRoster:
      return "roster-";
    case DocType::kRelayRegistration:
      return "registration-";
    case DocType::kFormEnvelope:
      return "form-";
    case DocType::kInvite:
      return "INV1-";
  }
  fail("unknown document type");
}

}  // namespace

const FixedKeys& keys() {
  static const FixedKeys k{
      parse_key<OrgSecretKey>(kOrgSecret),
      parse_key<CoordinatorSecretKey>(kCoordinatorSecret),
      parse_key<CoordinatorSecretKey>(kOtherCoordinatorSecret),
      parse_key<DeviceSecretKey>(kDeviceSecret),
      parse_key<DeviceSecretKey>(kOtherDeviceSecret),
  };
  return k;
}

void use_replayable_random() {
  if (randombytes_set_implementation(&g_replayable) != 0 || sodium_init() < 0)
    fail("cannot install the replayable random source");
}

void restart_random() {
  g_random_calls = 0;
}

void fail(const char* what) {
  std::fprintf(stderr, "\n*** satchel fuzz invariant broken: %s\n", what);
  std::abort();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// --- seal plans ---

Bytes encode_seal_plan(const SealPlan& plan) {
  Bytes out{kPlanMarker};
  out.push_back(static_cast<uint8_t>(((plan.slots - 1) & 7) | (plan.second_recipient ? 8 : 0) |
                                     (((plan.content_type - 1) & 7) << 4) |
                                     (plan.expect_other_sender ? 0x80 : 0)));
  put_le(out, plan.body_length, 3);
  out.push_back(plan.form_id_len);
  out.push_back(static_cast<uint8_t>(plan.ops.size()));
  for (const TamperOp& op : plan.ops) {
    out.push_back(op.op);
    put_le(out, op.offset, 4);
    out.push_back(op.value);
  }
  out.insert(out.end(), plan.body.begin(), plan.body.end());
  return out;
}

SealPlan decode_seal_plan(ByteView in) {
  PlanReader r(in);
  SealPlan p;
  const uint8_t flags = r.u8();
  p.slots = static_cast<uint16_t>((flags & 7) + 1);
  p.second_recipient = (flags & 8) != 0;
  p.content_type = static_cast<uint8_t>(((flags >> 4) & 7) % 5 + 1);
  p.expect_other_sender = (flags & 0x80) != 0;
  p.body_length = r.le(3) % (uint32_t{1} << 18);
  p.form_id_len = static_cast<uint8_t>(r.u8() % 66);
  const int ops = r.u8() % 9;
  for (int i = 0; i < ops; i++) {
    TamperOp op;
    op.op = r.u8();
    op.offset = r.le(4);
    op.value = r.u8();
    p.ops.push_back(op);
  }
  p.body = r.rest();
  return p;
}

Bytes plan_body(const SealPlan& plan) {
  if (plan.body_length == 0) return plan.body;
  Bytes out(plan.body_length);
  if (!plan.body.empty())
    for (size_t i = 0; i < out.size(); i++) out[i] = plan.body[i % plan.body.size()];
  return out;
}

std::string plan_form_id(uint8_t len) {
  static constexpr std::string_view kAllowed =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
  static_assert(kAllowed.size() == 65);
  return std::string(kAllowed.substr(0, len));
}

void apply_tamper(const TamperOp& op, Bytes& b) {
  const size_t n = b.size();
  size_t at = op.offset % (n + 1);
  if ((op.op & 0x80) != 0) at = n - at;
  const auto it = b.begin() + static_cast<std::ptrdiff_t>(at);
  switch ((op.op & 0x7f) % TamperOp::kKinds) {
    case TamperOp::kXor:
      if (at < n) b[at] ^= op.value;
      break;
    case TamperOp::kSet:
      if (at < n) b[at] = op.value;
      break;
    case TamperOp::kTruncate:
      b.resize(at);
      break;
    case TamperOp::kInsert:
      b.insert(it, op.value);
      break;
    case TamperOp::kErase:
      if (at < n) b.erase(it);
      break;
    case TamperOp::kAppend:
      b.insert(b.end(), size_t{op.value % 64u} + 1, op.value);
      break;
  }
}

// --- forge plans ---

Bytes encode_forge_plan(const ForgePlan& plan) {
  Bytes out{kForgeMarker};
  out.push_back(static_cast<uint8_t>(((plan.slots - 1) & 7) | (plan.raw_plaintext ? 8 : 0) |
                                     (plan.bad_authenticator ? 16 : 0)));
  put_le(out, plan.padded_hint, 3);
  out.push_back(plan.tags);
  out.insert(out.end(), plan.plaintext.begin(), plan.plaintext.end());
  return out;
}

ForgePlan decode_forge_plan(ByteView in) {
  PlanReader r(in);
  ForgePlan p;
  const uint8_t flags = r.u8();
  p.slots = static_cast<uint16_t>((flags & 7) + 1);
  p.raw_plaintext = (flags & 8) != 0;
  p.bad_authenticator = (flags & 16) != 0;
  p.padded_hint = r.le(3) % (uint32_t{1} << 18);
  p.tags = r.u8();
  p.plaintext = r.rest();
  return p;
}

Bytes forge_plaintext(const ForgePlan& plan) {
  Bytes plain;
  if (!plan.raw_plaintext) {
    const Key32& device = keys().device.public_key().x25519;
    plain.assign(device.begin(), device.end());
  }
  plain.insert(plain.end(), plan.plaintext.begin(), plan.plaintext.end());
  plain.resize(padme_padded_length(std::max<uint64_t>(plan.padded_hint, plain.size())));
  return plain;
}

uint8_t forge_tag(const ForgePlan& plan, uint64_t k, uint64_t chunks) {
  if (plan.tags == 0)
    return k + 1 == chunks ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                           : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
  return static_cast<uint8_t>((plan.tags >> (2 * (k % 4))) & 3);
}

// --- signed document plans ---

Bytes encode_signed_doc_plan(const SignedDocPlan& plan) {
  Bytes out{kPlanMarker};
  out.push_back(
      static_cast<uint8_t>((static_cast<uint8_t>(plan.type) - 1) | (plan.raw_body ? 0x80 : 0)));
  put_le(out, static_cast<uint32_t>(plan.body.size()), 2);
  out.insert(out.end(), plan.body.begin(), plan.body.end());
  out.insert(out.end(), plan.tail.begin(), plan.tail.end());
  return out;
}

SignedDocPlan decode_signed_doc_plan(ByteView in) {
  PlanReader r(in);
  SignedDocPlan p;
  const uint8_t type = r.u8();
  p.type = static_cast<DocType>((type & 3) + 1);
  p.raw_body = (type & 0x80) != 0;
  p.body = r.take(r.le(2));
  p.tail = r.rest();
  return p;
}

std::string signed_doc_text(const SignedDocPlan& plan) {
  Bytes body;
  if (!plan.raw_body) {
    const OrgPublicKey& org = keys().org.public_key();
    const OrgId id = org_id_for(org);
    body.insert(body.end(), org.ed25519.begin(), org.ed25519.end());
    body.insert(body.end(), id.begin(), id.end());
  }
  body.insert(body.end(), plan.body.begin(), plan.body.end());
  Bytes wire = sign_document(plan.type, body, keys().org);
  wire.insert(wire.end(), plan.tail.begin(), plan.tail.end());
  return plan.type == DocType::kInvite ? invite_text(wire) : armor_document(plan.type, wire);
}

std::string invite_text(ByteView wire) {
  std::string text(armor_prefix(DocType::kInvite));
  for (char c : to_base32(wire))
    text += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

Bytes doc_wire_from_text(DocType type, std::string_view text) {
  text = trim(text);
  const std::string_view prefix = armor_prefix(type);
  if (text.substr(0, prefix.size()) != prefix) return {};
  const std::string_view encoded = text.substr(prefix.size());
  auto wire = type == DocType::kInvite ? from_base32(encoded) : from_base64url(encoded);
  return wire ? std::move(*wire) : Bytes{};
}

SignedDocPlan signed_doc_plan_from_text(DocType type, std::string_view text) {
  const Bytes wire = doc_wire_from_text(type, text);
  constexpr size_t kFrame = 6, kKeyAndId = 48, kSig = crypto_sign_BYTES;
  if (wire.size() < kFrame + kKeyAndId + kSig) fail("seed document too short");
  const size_t body_len =
      wire[2] | size_t{wire[3]} << 8 | size_t{wire[4]} << 16 | size_t{wire[5]} << 24;
  if (body_len < kKeyAndId || wire.size() < kFrame + body_len + kSig)
    fail("seed document malformed");
  SignedDocPlan p;
  p.type = type;
  const auto at = [&](size_t i) { return wire.begin() + static_cast<std::ptrdiff_t>(i); };
  p.body.assign(at(kFrame + kKeyAndId), at(kFrame + body_len));
  p.tail.assign(at(kFrame + body_len + kSig), wire.end());
  return p;
}

}  // namespace satchel::fuzz
