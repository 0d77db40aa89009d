#include "satchel/crypto/trust_documents.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "document_wire.h"
#include "satchel/crypto/sha256.h"

namespace satchel {
namespace docwire {

std::string_view context_of(DocType t) {
  switch (t) {
    case DocType::kRoster:
      return "satchel roster v1";
    case DocType::kRelayRegistration:
      return "satchel relay registration v1";
    case DocType::kFormEnvelope:
      return "satchel form envelope v1";
    case DocType::kInvite:
      return "satchel invite v1";
  }
  return "";
}

const char* name_of(DocType t) {
  switch (t) {
    case DocType::kRoster:
      return "roster";
    case DocType::kRelayRegistration:
      return "relay registration";
    case DocType::kFormEnvelope:
      return "signed form";
    case DocType::kInvite:
      return "invite";
  }
  return "unknown document";
}

// Text armor prefixes; the invite has its own QR-friendly text.
constexpr std::pair<DocType, std::string_view> kArmor[] = {
    {DocType::kRoster, "roster-"},
    {DocType::kRelayRegistration, "registration-"},
    {DocType::kFormEnvelope, "form-"},
    {DocType::kInvite, "invite-base-"},
};

Error doc_err(Errc code, DocType t, const std::string& what) {
  return make_error(code, std::string(name_of(t)) + ": " + what);
}

// The exact bytes an organisation signature covers.
Bytes signed_message(DocType t, ByteView body) {
  WireWriter w;
  std::string_view ctx = context_of(t);
  w.u8(static_cast<uint8_t>(ctx.size()));
  w.bytes(as_bytes(ctx));
  w.u8(kDocFormatVersion);
  w.u8(static_cast<uint8_t>(t));
  w.u32(static_cast<uint32_t>(body.size()));
  w.bytes(body);
  return w.take();
}

Bytes sign_doc(DocType t, ByteView body, const OrgSecretKey& key) {
  Bytes msg = signed_message(t, body);
  uint8_t sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, msg.data(), msg.size(), key.signing_key().data());
  WireWriter w;
  w.u8(kDocFormatVersion);
  w.u8(static_cast<uint8_t>(t));
  w.u32(static_cast<uint32_t>(body.size()));
  w.bytes(body);
  w.bytes(ByteView(sig, sizeof sig));
  wipe(msg.data(), msg.size());
  return w.take();
}

// Structure of a signed document at the start of `wire` (rules D1-D4 of the spec).
Result<ParsedDoc> parse_doc(ByteView wire, DocType expected, bool allow_rest) {
  WireReader r(wire);
  uint8_t fmt = 0, type = 0;
  uint32_t len = 0;
  if (!r.u8(fmt)) return doc_err(Errc::kDocMalformed, expected, "empty document");
  if (fmt != kDocFormatVersion)
    return doc_err(Errc::kDocUnsupportedVersion, expected,
                   "unsupported document format " + std::to_string(fmt));
  if (!r.u8(type) || !r.u32(len)) return doc_err(Errc::kDocMalformed, expected, "truncated");
  if (type != static_cast<uint8_t>(expected)) {
    std::string got = type >= 1 && type <= 4 ? name_of(static_cast<DocType>(type)) : "unknown type";
    return doc_err(Errc::kDocWrongType, expected,
                   "this is a " + got + ", not a " + name_of(expected));
  }
  ParsedDoc d;
  if (len > kMaxDocBody || r.remaining() < size_t{len} + 64)
    return doc_err(Errc::kDocMalformed, expected, "truncated or oversized body");
  d.body = wire.subspan(r.position(), len);
  if (len < 32) return doc_err(Errc::kDocMalformed, expected, "body too short");
  std::memcpy(d.signer.ed25519.data(), d.body.data(), 32);
  std::memcpy(d.sig.data(), wire.data() + r.position() + len, 64);
  d.consumed = r.position() + len + 64;
  if (!allow_rest && d.consumed != wire.size())
    return doc_err(Errc::kDocMalformed, expected, "unexpected bytes after the signature");
  return d;
}

// Rule D5/D6: the embedded signer must be the trusted key, and the signature must verify.
Status check_signature(const ParsedDoc& d, DocType t, const std::optional<OrgPublicKey>& trusted) {
  if (trusted && !(*trusted == d.signer))
    return doc_err(
        Errc::kDocUntrustedSigner, t,
        "signed by a different organisation key (fingerprint " + d.signer.fingerprint() + ")");
  if (!crypto_core_ed25519_is_valid_point(d.signer.ed25519.data()))
    return doc_err(Errc::kDocBadSignature, t, "signer key is not a valid point");
  Bytes msg = signed_message(t, d.body);
  bool ok = crypto_sign_verify_detached(d.sig.data(), msg.data(), msg.size(),
                                        d.signer.ed25519.data()) == 0;
  if (!ok) return doc_err(Errc::kDocBadSignature, t, "signature does not verify");
  return Status::Ok();
}

std::string armor(DocType t, ByteView wire) {
  for (auto& [type, prefix] : kArmor)
    if (type == t) return std::string(prefix) + to_base64url(wire);
  return {};
}

// ASCII only, whatever the locale.
bool ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && ascii_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && ascii_space(s.back())) s.remove_suffix(1);
  return s;
}

Result<Bytes> dearmor(std::string_view text, DocType expected) {
  text = trim(text);
  for (auto& [type, prefix] : kArmor) {
    if (text.substr(0, prefix.size()) != prefix) continue;
    if (type != expected)
      return doc_err(Errc::kDocWrongType, expected,
                     std::string("this is a ") + name_of(type) + ", not a " + name_of(expected));
    auto bytes = from_base64url(text.substr(prefix.size()));
    if (!bytes) return doc_err(Errc::kDocMalformed, expected, "invalid base64url text");
    return std::move(*bytes);
  }
  return doc_err(Errc::kDocMalformed, expected, "not a Satchel document (unknown prefix)");
}

// Strict UTF-8 (no overlong forms, surrogates or values past U+10FFFF) without C0/C1 controls
// or bidirectional overrides and isolates, which could make one name display as another.
bool text_ok(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (size_t i = 0; i < s.size();) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    uint32_t cp = 0;
    size_t n = 0;
    if (b(0) < 0x80) {
      cp = b(0);
      n = 1;
    } else if (b(0) >= 0xc2 && b(0) <= 0xdf) {
      cp = b(0) & 0x1fu;
      n = 2;
    } else if (b(0) >= 0xe0 && b(0) <= 0xef) {
      cp = b(0) & 0x0fu;
      n = 3;
    } else if (b(0) >= 0xf0 && b(0) <= 0xf4) {
      cp = b(0) & 0x07u;
      n = 4;
    } else
      return false;
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; k++) {
      if ((b(k) & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b(k) & 0x3fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) return false;
    if (cp >= 0xd800 && cp <= 0xdfff) return false;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return false;
    if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) return false;
    i += n;
  }
  return true;
}

bool form_id_ok(std::string_view id) {
  if (id.empty() || id.size() > kBundleFormIdMax) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return ascii_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

bool zero(const Hash32& h) {
  return sodium_is_zero(h.data(), h.size()) == 1;
}

Error field_err(DocType t, const std::string& what) {
  return doc_err(Errc::kDocInvalidField, t, what);
}

// --- roster body ---

Bytes encode_roster_body(const Roster& r) {
  WireWriter w;
  w.bytes(r.org.ed25519);
  w.bytes(r.org_id());
  w.u64(r.version);
  w.u64(static_cast<uint64_t>(r.issued_at));
  w.u64(static_cast<uint64_t>(r.expires_at));
  w.str16(r.org_name);
  w.u16(r.slot_count);
  w.u16(static_cast<uint16_t>(r.coordinators.size()));
  for (const auto& c : r.coordinators) {
    w.str16(c.name);
    w.bytes(c.key.x25519);
    w.bytes(c.key.ed25519);
  }
  w.u16(static_cast<uint16_t>(r.relays.size()));
  for (const auto& rl : r.relays) {
    w.str16(rl.url);
    w.bytes(rl.spki_pin);
    w.bytes(rl.backup_pin);
  }
  return w.take();
}

Status validate_roster(const Roster& r) {
  const DocType t = DocType::kRoster;
  if (r.version < 1) return field_err(t, "version must be at least 1");
  if (r.expires_at <= r.issued_at) return field_err(t, "expires before it is issued");
  if (!text_ok(r.org_name, 64)) return field_err(t, "invalid organisation name");
  if (r.slot_count < 1 || r.slot_count > kBundleMaxSlots)
    return field_err(t, "slot count must be 1..64");
  if (r.coordinators.empty()) return field_err(t, "no coordinators");
  if (r.coordinators.size() > r.slot_count) return field_err(t, "more coordinators than slots");
  for (size_t i = 0; i < r.coordinators.size(); i++) {
    const auto& c = r.coordinators[i];
    if (!text_ok(c.name, 64))
      return field_err(t, "coordinator " + std::to_string(i + 1) + " has an invalid name");
    if (const char* why = x25519_noncanonical_reason(c.key.x25519))
      return field_err(t, "coordinator " + std::to_string(i + 1) +
                              " has an X25519 key that is not a canonical encoding: " + why);
    if (!x25519_public_usable(c.key.x25519) ||
        !crypto_core_ed25519_is_valid_point(c.key.ed25519.data()))
      return field_err(t, "coordinator " + std::to_string(i + 1) + " has an invalid key");
    for (size_t j = 0; j < i; j++)
      if (r.coordinators[j].key.x25519 == c.key.x25519 ||
          r.coordinators[j].key.ed25519 == c.key.ed25519)
        return field_err(t, "coordinator " + std::to_string(i + 1) + " repeats a key");
  }
  if (r.relays.empty() || r.relays.size() > 8) return field_err(t, "relay count must be 1..8");
  for (const auto& rl : r.relays) {
    if (!text_ok(rl.url, 256) || rl.url.rfind("https://", 0) != 0 ||
        rl.url.find(' ') != std::string::npos)
      return field_err(t, "relay URL must be https:// with no spaces, at most 256 bytes");
    if (zero(rl.spki_pin) || zero(rl.backup_pin) || rl.spki_pin == rl.backup_pin)
      return field_err(t, "relay pins must be set and distinct");
  }
  return Status::Ok();
}

Result<Roster> parse_roster_body(ByteView body) {
  const DocType t = DocType::kRoster;
  WireReader r(body);
  Roster ro;
  OrgId id{};
  uint64_t issued = 0, expires = 0;
  uint16_t nc = 0, nr = 0;
  auto bad = [&] { return doc_err(Errc::kDocMalformed, t, "body ends early or has extra bytes"); };
  if (!r.array(ro.org.ed25519) || !r.array(id) || !r.u64(ro.version) || !r.u64(issued) ||
      !r.u64(expires) || !r.str16(ro.org_name) || !r.u16(ro.slot_count) || !r.u16(nc))
    return bad();
  ro.issued_at = static_cast<int64_t>(issued);
  ro.expires_at = static_cast<int64_t>(expires);
  if (nc > kBundleMaxSlots) return field_err(t, "too many coordinators");
  for (uint16_t i = 0; i < nc; i++) {
    RosterCoordinator c;
    if (!r.str16(c.name) || !r.array(c.key.x25519) || !r.array(c.key.ed25519)) return bad();
    ro.coordinators.push_back(std::move(c));
  }
  if (!r.u16(nr)) return bad();
  if (nr > 8) return field_err(t, "too many relays");
  for (uint16_t i = 0; i < nr; i++) {
    RosterRelay rl;
    if (!r.str16(rl.url) || !r.array(rl.spki_pin) || !r.array(rl.backup_pin)) return bad();
    ro.relays.push_back(std::move(rl));
  }
  if (!r.at_end()) return bad();
  if (id != ro.org_id()) return field_err(t, "organisation id does not match the organisation key");
  SATCHEL_TRY(validate_roster(ro));
  return ro;
}

Result<Roster> verify_roster_wire(ByteView wire, const std::optional<OrgPublicKey>& trusted) {
  auto d = parse_doc(wire, DocType::kRoster, false);
  if (!d) return d.error();
  SATCHEL_TRY(check_signature(*d, DocType::kRoster, trusted));
  return parse_roster_body(d->body);
}

Result<Bytes> roster_wire_from_text(std::string_view text) {
  return dearmor(text, DocType::kRoster);
}

}  // namespace docwire

using namespace docwire;

Bytes sign_document(DocType t, ByteView body, const OrgSecretKey& org_key) {
  return sign_doc(t, body, org_key);
}

std::string armor_document(DocType t, ByteView wire) {
  return armor(t, wire);
}

OrgId org_id_for(const OrgPublicKey& org) {
  crypto_init();
  uint8_t h[32];
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  const std::string_view domain = "satchel org id v1";
  crypto_generichash_update(&st, as_bytes(domain).data(), domain.size());
  crypto_generichash_update(&st, org.ed25519.data(), 32);
  crypto_generichash_final(&st, h, 32);
  OrgId id{};
  std::memcpy(id.data(), h, id.size());
  return id;
}

Result<std::string> Roster::sign(const OrgSecretKey& org_key) const {
  if (!(org_key.public_key() == org))
    return make_error(Errc::kInvalidArgument, "roster names a different organisation key");
  SATCHEL_TRY(validate_roster(*this));
  return armor(DocType::kRoster, sign_doc(DocType::kRoster, encode_roster_body(*this), org_key));
}

Result<Roster> Roster::verify(std::string_view text, const OrgPublicKey& trusted, int64_t now) {
  auto wire = roster_wire_from_text(text);
  if (!wire) return wire.error();
  auto r = verify_roster_wire(*wire, trusted);
  if (!r) return r.error();
  if (now >= r->expires_at)
    return doc_err(Errc::kDocExpired, DocType::kRoster,
                   "expired (version " + std::to_string(r->version) + ")");
  return r;
}

Status check_roster_update(const std::optional<Roster>& held, const Roster& incoming) {
  if (!held) return Status::Ok();
  if (!(held->org == incoming.org))
    return doc_err(Errc::kDocUntrustedSigner, DocType::kRoster, "from a different organisation");
  if (incoming.version <= held->version)
    return doc_err(Errc::kDocRollback, DocType::kRoster,
                   "version " + std::to_string(incoming.version) +
                       " is not newer than the held version " + std::to_string(held->version));
  return Status::Ok();
}

// --- relay registration ---

namespace {
Status validate_registration(const RelayRegistration& r) {
  const DocType t = DocType::kRelayRegistration;
  if (r.version < 1) return field_err(t, "version must be at least 1");
  if (r.coordinator_auth_keys.empty() || r.coordinator_auth_keys.size() > kBundleMaxSlots)
    return field_err(t, "coordinator count must be 1..64");
  if (r.required_acks > r.coordinator_auth_keys.size())
    return field_err(t, "required acknowledgements exceed the coordinator count");
  for (size_t i = 0; i < r.coordinator_auth_keys.size(); i++) {
    if (!crypto_core_ed25519_is_valid_point(r.coordinator_auth_keys[i].data()))
      return field_err(t, "coordinator key " + std::to_string(i + 1) + " is invalid");
    for (size_t j = 0; j < i; j++)
      if (r.coordinator_auth_keys[j] == r.coordinator_auth_keys[i])
        return field_err(t, "coordinator key " + std::to_string(i + 1) + " repeats");
  }
  return Status::Ok();
}
}  // namespace

Result<std::string> RelayRegistration::sign(const OrgSecretKey& org_key) const {
  if (!(org_key.public_key() == org))
    return make_error(Errc::kInvalidArgument, "registration names a different organisation key");
  SATCHEL_TRY(validate_registration(*this));
  WireWriter w;
  w.bytes(org.ed25519);
  w.bytes(org_id_for(org));
  w.u64(version);
  w.u64(static_cast<uint64_t>(issued_at));
  w.u16(required_acks);
  w.u16(static_cast<uint16_t>(coordinator_auth_keys.size()));
  for (const auto& k : coordinator_auth_keys) w.bytes(k);
  const DocType t = DocType::kRelayRegistration;
  return armor(t, sign_doc(t, w.data(), org_key));
}

Result<RelayRegistration> RelayRegistration::verify(std::string_view text,
                                                    const std::optional<OrgPublicKey>& trusted) {
  const DocType t = DocType::kRelayRegistration;
  auto wire = dearmor(text, t);
  if (!wire) return wire.error();
  auto d = parse_doc(*wire, t, false);
  if (!d) return d.error();
  SATCHEL_TRY(check_signature(*d, t, trusted));
  WireReader r(d->body);
  RelayRegistration reg;
  OrgId id{};
  uint64_t issued = 0;
  uint16_t n = 0;
  auto bad = [&] { return doc_err(Errc::kDocMalformed, t, "body ends early or has extra bytes"); };
  if (!r.array(reg.org.ed25519) || !r.array(id) || !r.u64(reg.version) || !r.u64(issued) ||
      !r.u16(reg.required_acks) || !r.u16(n))
    return bad();
  if (n > kBundleMaxSlots) return field_err(t, "too many coordinators");
  reg.coordinator_auth_keys.resize(n);
  for (auto& k : reg.coordinator_auth_keys)
    if (!r.array(k)) return bad();
  if (!r.at_end()) return bad();
  reg.issued_at = static_cast<int64_t>(issued);
  if (id != org_id_for(reg.org))
    return field_err(t, "organisation id does not match the organisation key");
  SATCHEL_TRY(validate_registration(reg));
  return reg;
}

Status check_registration_update(const std::optional<RelayRegistration>& held,
                                 const RelayRegistration& incoming) {
  const DocType t = DocType::kRelayRegistration;
  if (!held) return Status::Ok();
  if (!(held->org == incoming.org))
    return doc_err(Errc::kDocUntrustedSigner, t, "signed by a different organisation key");
  if (incoming.version <= held->version)
    return doc_err(Errc::kDocRollback, t,
                   "version " + std::to_string(incoming.version) +
                       " is not newer than the held version " + std::to_string(held->version));
  return Status::Ok();
}

// --- signed forms ---

Result<std::string> FormEnvelope::sign_package(const OrgSecretKey& org_key,
                                               std::string_view form_id, uint64_t version,
                                               ByteView content, int64_t issued_at) {
  const DocType t = DocType::kFormEnvelope;
  if (!form_id_ok(form_id)) return field_err(t, "form id must be 1..64 bytes of [A-Za-z0-9._-]");
  if (version < 1) return field_err(t, "form version must be at least 1");
  if (content.size() > kMaxFormContent) return field_err(t, "form larger than 4 MiB");
  WireWriter w;
  w.bytes(org_key.public_key().ed25519);
  w.bytes(org_id_for(org_key.public_key()));
  w.str16(form_id);
  w.u64(version);
  w.bytes(Sha256::digest(content));
  w.u64(static_cast<uint64_t>(issued_at));
  WireWriter pkg;
  pkg.bytes(sign_doc(t, w.data(), org_key));
  pkg.u32(static_cast<uint32_t>(content.size()));
  pkg.bytes(content);
  return armor(t, pkg.data());
}

Result<std::pair<FormEnvelope, Bytes>> FormEnvelope::verify_package(std::string_view text,
                                                                    const OrgPublicKey& trusted) {
  const DocType t = DocType::kFormEnvelope;
  auto wire = dearmor(text, t);
  if (!wire) return wire.error();
  auto d = parse_doc(*wire, t, true);
  if (!d) return d.error();
  SATCHEL_TRY(check_signature(*d, t, trusted));
  WireReader r(d->body);
  FormEnvelope env;
  OrgId id{};
  uint64_t issued = 0;
  if (!r.array(env.org.ed25519) || !r.array(id) || !r.str16(env.form_id) ||
      !r.u64(env.form_version) || !r.array(env.content_hash) || !r.u64(issued) || !r.at_end())
    return doc_err(Errc::kDocMalformed, t, "body ends early or has extra bytes");
  env.issued_at = static_cast<int64_t>(issued);
  if (id != org_id_for(env.org))
    return field_err(t, "organisation id does not match the organisation key");
  if (!form_id_ok(env.form_id))
    return field_err(t, "form id must be 1..64 bytes of [A-Za-z0-9._-]");
  if (env.form_version < 1) return field_err(t, "form version must be at least 1");
  WireReader rest(ByteView(*wire).subspan(d->consumed));
  uint32_t len = 0;
  if (!rest.u32(len) || rest.remaining() != len)
    return doc_err(Errc::kDocMalformed, t, "form content is truncated or has extra bytes");
  if (len > kMaxFormContent) return field_err(t, "form larger than 4 MiB");
  Bytes content(wire->begin() + static_cast<std::ptrdiff_t>(d->consumed + 4), wire->end());
  if (Sha256::digest(content) != env.content_hash)
    return doc_err(Errc::kDocContentMismatch, t,
                   "form content does not match its signed hash (altered)");
  return std::make_pair(std::move(env), std::move(content));
}

Status check_form_update(std::optional<uint64_t> held_version, const FormEnvelope& incoming) {
  if (held_version && incoming.form_version <= *held_version)
    return doc_err(Errc::kDocRollback, DocType::kFormEnvelope,
                   "form " + incoming.form_id + " version " +
                       std::to_string(incoming.form_version) +
                       " is not newer than the held version " + std::to_string(*held_version));
  return Status::Ok();
}

// --- relay challenge ---

Result<Bytes> relay_challenge_message(const Hash32& spki_pin, ByteView mailbox_id, ByteView nonce,
                                      int64_t issued_at) {
  if (mailbox_id.empty() || mailbox_id.size() > 64 || nonce.size() < 16 || nonce.size() > 64)
    return make_error(Errc::kInvalidArgument,
                      "relay challenge: mailbox id 1..64 and nonce 16..64 bytes");
  WireWriter w;
  const std::string_view ctx = "satchel relay challenge v1";
  w.u8(static_cast<uint8_t>(ctx.size()));
  w.bytes(as_bytes(ctx));
  w.bytes(spki_pin);
  w.var16(mailbox_id);
  w.var16(nonce);
  w.u64(static_cast<uint64_t>(issued_at));
  return w.take();
}

std::array<uint8_t, 64> sign_relay_challenge(const CoordinatorSecretKey& key, ByteView message) {
  std::array<uint8_t, 64> sig{};
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(),
                       key.signing_key().data());
  return sig;
}

bool verify_relay_challenge(const Key32& coordinator_ed25519, ByteView message,
                            const std::array<uint8_t, 64>& signature) {
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     coordinator_ed25519.data()) == 0;
}

}  // namespace satchel
