#include "satchel/crypto/invite.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "document_wire.h"

namespace satchel {
namespace {

using namespace docwire;

constexpr std::string_view kInvitePrefix = "INV1-";
constexpr DocType kT = DocType::kInvite;
constexpr size_t kMaxForms = 32;

void write_context(WireWriter& w, std::string_view ctx) {
  w.u8(static_cast<uint8_t>(ctx.size()));
  w.bytes(as_bytes(ctx));
}

Bytes encode_base_body(const InviteBase& b, ByteView roster_wire) {
  WireWriter w;
  w.bytes(b.org.ed25519);
  w.bytes(org_id_for(b.org));
  w.u64(static_cast<uint64_t>(b.issued_at));
  w.u64(static_cast<uint64_t>(b.expires_at));
  w.var16(roster_wire);
  w.bytes(b.enrollment_secret.span());
  w.bytes(b.publication_key.span());
  w.u16(static_cast<uint16_t>(b.forms.size()));
  for (const auto& f : b.forms) {
    w.str16(f.form_id);
    w.u64(f.version);
    w.bytes(f.content_hash);
  }
  return w.take();
}

// Rule D7 for the signed body (fields in order; the roster is checked by the caller).
Result<InviteBase> parse_base_body(ByteView body, ByteView& roster_wire) {
  InviteBase b;
  WireReader r(body);
  OrgId id{};
  uint64_t issued = 0, expires = 0;
  uint16_t nf = 0;
  b.enrollment_secret = SecretBytes(32);
  b.publication_key = SecretBytes(32);
  auto bad = [] { return doc_err(Errc::kDocMalformed, kT, "body ends early or has extra bytes"); };
  if (!r.array(b.org.ed25519) || !r.array(id) || !r.u64(issued) || !r.u64(expires) ||
      !r.var16(roster_wire) || !r.bytes(b.enrollment_secret.span()) ||
      !r.bytes(b.publication_key.span()) || !r.u16(nf))
    return bad();
  if (nf > kMaxForms) return field_err(kT, "too many forms");
  for (uint16_t i = 0; i < nf; i++) {
    InviteForm f;
    if (!r.str16(f.form_id) || !r.u64(f.version) || !r.array(f.content_hash)) return bad();
    if (!form_id_ok(f.form_id)) return field_err(kT, "invalid form id");
    b.forms.push_back(std::move(f));
  }
  if (!r.at_end()) return bad();
  if (id != org_id_for(b.org))
    return field_err(kT, "organisation id does not match the organisation key");
  b.issued_at = static_cast<int64_t>(issued);
  b.expires_at = static_cast<int64_t>(expires);
  if (b.expires_at <= b.issued_at) return field_err(kT, "expires before it is issued");
  return b;
}

// D7.5: the unsigned part after the signed base.
Result<InviteMint> parse_mint(ByteView rest) {
  InviteMint m;
  WireReader r(rest);
  ByteView code;
  uint64_t code_exp = 0, minted = 0;
  m.invite_secret = SecretBytes(32);
  if (!r.var16(code) || !r.u64(code_exp) || !r.u8(m.relay_index) || !r.array(m.token_id) ||
      !r.bytes(m.invite_secret.span()) || !r.array(m.minter_key) || !r.u64(minted) ||
      !r.array(m.mint_signature) || !r.at_end())
    return doc_err(Errc::kDocMalformed, kT, "minted part is truncated or has extra bytes");
  if (code.size() < 16 || code.size() > 128)
    return field_err(kT, "relay code must be 16..128 bytes");
  if (!crypto_core_ed25519_is_valid_point(m.minter_key.data()))
    return field_err(kT, "the minting coordinator's key is not a valid point");
  m.relay_code = SecretBytes(code.size());
  std::memcpy(m.relay_code.data(), code.data(), code.size());
  m.relay_code_expires_at = static_cast<int64_t>(code_exp);
  m.minted_at = static_cast<int64_t>(minted);
  return m;
}

Result<SecretBytes> to_invite_text(ByteView wire) {
  SecretBytes b32 = to_base32_secret(wire);
  SecretBytes out(kInvitePrefix.size() + b32.size());
  std::memcpy(out.data(), kInvitePrefix.data(), kInvitePrefix.size());
  for (size_t i = 0; i < b32.size(); i++) {
    uint8_t c = b32.data()[i];
    out.data()[kInvitePrefix.size() + i] = (c >= 'a' && c <= 'z') ? uint8_t(c - 32) : c;
  }
  return out;
}

// Ed25519 key pair of an invite: seed = BLAKE2b-256 keyed by the invite secret.
void invite_keypair(const SecretBytes& invite_secret, Key32& pk, SecretBytes& sk) {
  SecretBytes seed(32);
  const std::string_view ctx = "satchel invite key v1";
  crypto_generichash(seed.data(), 32, as_bytes(ctx).data(), ctx.size(), invite_secret.data(),
                     invite_secret.size());
  sk = SecretBytes(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
}

}  // namespace

Key32 invite_key_for(const SecretBytes& invite_secret) {
  Key32 pk{};
  SecretBytes sk;
  invite_keypair(invite_secret, pk, sk);
  return pk;
}

InviteId invite_id_for(const Key32& invite_key) {
  uint8_t h[32];
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  const std::string_view domain = "satchel invite id v1";
  crypto_generichash_update(&st, as_bytes(domain).data(), domain.size());
  crypto_generichash_update(&st, invite_key.data(), invite_key.size());
  crypto_generichash_final(&st, h, 32);
  InviteId id{};
  std::memcpy(id.data(), h, id.size());
  return id;
}

Bytes mint_statement(const OrgId& org, const Key32& invite_key, const TokenId& token_id,
                     int64_t minted_at) {
  WireWriter w;
  write_context(w, "satchel invite mint v1");
  w.bytes(org);
  w.bytes(invite_key);
  w.bytes(token_id);
  w.u64(static_cast<uint64_t>(minted_at));
  return w.take();
}

Result<SecretBytes> InviteBase::sign(const OrgSecretKey& org_key) const {
  if (!(org_key.public_key() == org))
    return make_error(Errc::kInvalidArgument, "invite names a different organisation key");
  if (enrollment_secret.size() != 32 || publication_key.size() != 32)
    return field_err(kT, "enrollment secret and publication key must be 32 bytes");
  auto roster_wire = roster_wire_from_text(roster_text);
  if (!roster_wire) return roster_wire.error();
  auto roster = verify_roster_wire(*roster_wire, org);
  if (!roster) return roster.error();
  if (forms.size() > kMaxForms) return field_err(kT, "at most 32 forms");
  for (const auto& f : forms)
    if (!form_id_ok(f.form_id))
      return field_err(kT, "form id must be 1..64 bytes of [A-Za-z0-9._-]");
  if (expires_at <= issued_at) return field_err(kT, "expires before it is issued");
  Bytes body = encode_base_body(*this, *roster_wire);
  Bytes doc = sign_doc(kT, body, org_key);
  wipe(body.data(), body.size());
  std::string text = armor(kT, doc);
  wipe(doc.data(), doc.size());
  SecretBytes out(text.size());
  std::memcpy(out.data(), text.data(), text.size());
  wipe(text.data(), text.size());
  return out;
}

Result<SignedInviteBase> SignedInviteBase::verify(ByteView text, const OrgPublicKey& trusted,
                                                  int64_t now) {
  std::string_view sv(reinterpret_cast<const char*>(text.data()), text.size());
  auto wire = dearmor(sv, kT);
  if (!wire) return wire.error();
  SignedInviteBase out;
  if (wire->empty()) return doc_err(Errc::kDocMalformed, kT, "empty document");
  out.wire_ = SecretBytes(wire->size());
  std::memcpy(out.wire_.data(), wire->data(), wire->size());
  wipe(wire->data(), wire->size());
  auto d = parse_doc(out.wire_.span(), kT, false);
  if (!d) return d.error();
  SATCHEL_TRY(check_signature(*d, kT, trusted));
  ByteView roster_wire;
  auto b = parse_base_body(d->body, roster_wire);
  if (!b) return b.error();
  if (now >= b->expires_at) return doc_err(Errc::kDocExpired, kT, "the invite base has expired");
  auto roster = verify_roster_wire(roster_wire, trusted);
  if (!roster) return roster.error();
  if (now >= roster->expires_at)
    return doc_err(Errc::kDocExpired, DocType::kRoster, "the invite base's roster has expired");
  b->roster_text = armor(DocType::kRoster, roster_wire);
  out.base_ = std::move(*b);
  out.roster_ = std::move(*roster);
  return out;
}

Result<MintedInvite> mint_invite(const SignedInviteBase& base, const SecretBytes& relay_code,
                                 int64_t relay_code_expires_at, uint8_t relay_index,
                                 const TokenId& token_id, int64_t minted_at,
                                 const CoordinatorSecretKey& minter) {
  if (relay_code.size() < 16 || relay_code.size() > 128)
    return field_err(kT, "relay code must be 16..128 bytes");
  if (relay_index >= base.roster().relays.size())
    return field_err(kT, "relay index " + std::to_string(relay_index) +
                             " names no relay of the invite's roster");
  SecretBytes secret(32);
  randombytes_buf(secret.data(), secret.size());
  MintedInvite out;
  out.invite_key = invite_key_for(secret);
  out.id = invite_id_for(out.invite_key);
  Bytes stmt = mint_statement(org_id_for(base.base().org), out.invite_key, token_id, minted_at);
  Sig64 sig{};
  crypto_sign_detached(sig.data(), nullptr, stmt.data(), stmt.size(), minter.signing_key().data());
  WireWriter w;
  w.bytes(base.wire().span());
  w.var16(relay_code.span());
  w.u64(static_cast<uint64_t>(relay_code_expires_at));
  w.u8(relay_index);
  w.bytes(token_id);
  w.bytes(secret.span());
  w.bytes(minter.public_key().ed25519);
  w.u64(static_cast<uint64_t>(minted_at));
  w.bytes(sig);
  Bytes wire = w.take();
  auto text = to_invite_text(wire);
  wipe(wire.data(), wire.size());
  if (!text) return text.error();
  out.text = std::move(*text);
  return out;
}

Result<UnconfirmedInvite> UnconfirmedInvite::parse(ByteView text_bytes) {
  std::string_view text =
      trim(std::string_view(reinterpret_cast<const char*>(text_bytes.data()), text_bytes.size()));
  if (text.substr(0, kInvitePrefix.size()) != kInvitePrefix)
    return doc_err(Errc::kDocMalformed, kT, "not an invite (it should start with INV1-)");
  auto wire = from_base32_secret(text.substr(kInvitePrefix.size()));
  if (!wire) return doc_err(Errc::kDocMalformed, kT, "invalid character or length (typo?)");
  auto d = parse_doc(wire->span(), kT, true);
  if (!d) return d.error();
  SATCHEL_TRY(check_signature(*d, kT, std::nullopt));
  ByteView roster_wire;
  auto b = parse_base_body(d->body, roster_wire);
  if (!b) return b.error();
  auto m = parse_mint(wire->span().subspan(d->consumed));
  if (!m) return m.error();
  UnconfirmedInvite inv;
  inv.base_ = std::move(*b);
  inv.base_.roster_text = armor(DocType::kRoster, roster_wire);
  inv.mint_ = std::move(*m);
  // For display only: the roster's claimed name, if its body parses at all.
  if (auto ro = verify_roster_wire(roster_wire, inv.base_.org)) inv.claimed_name_ = ro->org_name;
  return inv;
}

Result<ConfirmedInvite> UnconfirmedInvite::confirm(std::string_view typed, int64_t now) && {
  std::string want = fingerprint(), got;
  want.erase(std::remove(want.begin(), want.end(), ' '), want.end());
  for (char ch : typed)
    if (!ascii_space(ch) && ch != '-') got += ch;
  if (got.size() != want.size() || sodium_memcmp(got.data(), want.data(), want.size()) != 0)
    return doc_err(Errc::kDocNotConfirmed, kT,
                   "fingerprint does not match: do not use this invite");
  if (now >= base_.expires_at) return doc_err(Errc::kDocExpired, kT, "invite has expired");
  auto roster = Roster::verify(base_.roster_text, base_.org, now);
  if (!roster) return roster.error();
  if (mint_.relay_index >= roster->relays.size())
    return field_err(kT, "the minted part names relay " + std::to_string(mint_.relay_index) +
                             ", which the roster does not have");
  const Key32 ik = invite_key_for(mint_.invite_secret);
  Bytes stmt = mint_statement(org_id_for(base_.org), ik, mint_.token_id, mint_.minted_at);
  if (crypto_sign_verify_detached(mint_.mint_signature.data(), stmt.data(), stmt.size(),
                                  mint_.minter_key.data()) != 0)
    return doc_err(Errc::kDocBadSignature, kT,
                   "the minting coordinator's signature does not verify");
  ConfirmedInvite ci;
  ci.base_ = std::move(base_);
  ci.mint_ = std::move(mint_);
  ci.roster_ = std::move(*roster);
  return ci;
}

// --- device hello ---

namespace {

constexpr uint8_t kHelloVersion = 1;

Bytes hello_signed_part(const DeviceHello& h) {
  WireWriter w;
  w.u8(kHelloVersion);
  w.bytes(h.device.x25519);
  w.str16(h.label);
  w.bytes(h.token_id);
  w.bytes(h.org_id);
  w.bytes(h.invite_key);
  w.bytes(h.minter_key);
  w.u64(static_cast<uint64_t>(h.minted_at));
  w.bytes(h.mint_signature);
  return w.take();
}

Bytes hello_message(ByteView signed_part) {
  WireWriter w;
  write_context(w, "satchel device hello v1");
  w.bytes(signed_part);
  return w.take();
}

Error hello_err(Errc code, const std::string& what) {
  return make_error(code, "device hello: " + what);
}

}  // namespace

Bytes DeviceHello::encode() const {
  Bytes out = hello_signed_part(*this);
  out.insert(out.end(), signature.begin(), signature.end());
  return out;
}

Result<DeviceHello> DeviceHello::parse(ByteView body) {
  DeviceHello h;
  WireReader r(body);
  uint8_t version = 0;
  uint64_t minted = 0;
  if (!r.u8(version)) return hello_err(Errc::kDocMalformed, "empty");
  if (version != kHelloVersion)
    return hello_err(Errc::kDocUnsupportedVersion, "version " + std::to_string(version));
  if (!r.array(h.device.x25519) || !r.str16(h.label) || !r.array(h.token_id) ||
      !r.array(h.org_id) || !r.array(h.invite_key) || !r.array(h.minter_key) || !r.u64(minted) ||
      !r.array(h.mint_signature) || !r.array(h.signature) || !r.at_end())
    return hello_err(Errc::kDocMalformed, "truncated or has extra bytes");
  h.minted_at = static_cast<int64_t>(minted);
  if (!text_ok(h.label, 64)) return hello_err(Errc::kDocInvalidField, "invalid device label");
  if (x25519_noncanonical_reason(h.device.x25519) || !x25519_public_usable(h.device.x25519))
    return hello_err(Errc::kDocInvalidField, "the device key is not a usable X25519 key");
  if (!crypto_core_ed25519_is_valid_point(h.invite_key.data()) ||
      !crypto_core_ed25519_is_valid_point(h.minter_key.data()))
    return hello_err(Errc::kDocInvalidField, "an invite or coordinator key is not a valid point");
  return h;
}

Status DeviceHello::verify(const DevicePublicKey& sender, const OrgId& org) const {
  if (!(sender == device))
    return hello_err(Errc::kDocInvalidField, "names a device key other than the bundle's sender");
  if (org_id != org) return hello_err(Errc::kDocUntrustedSigner, "for another organisation");
  Bytes stmt = mint_statement(org_id, invite_key, token_id, minted_at);
  if (crypto_sign_verify_detached(mint_signature.data(), stmt.data(), stmt.size(),
                                  minter_key.data()) != 0)
    return hello_err(Errc::kDocBadSignature, "the minting coordinator's signature does not verify");
  Bytes msg = hello_message(hello_signed_part(*this));
  if (crypto_sign_verify_detached(signature.data(), msg.data(), msg.size(), invite_key.data()) != 0)
    return hello_err(Errc::kDocBadSignature, "the invite's signature does not verify");
  return Status::Ok();
}

Result<DeviceHello> make_device_hello(const ConfirmedInvite& invite, const DevicePublicKey& device,
                                      std::string_view label) {
  if (!text_ok(label, 64))
    return hello_err(Errc::kInvalidArgument,
                     "the device label must be 1..64 bytes of UTF-8 without control characters");
  DeviceHello h;
  h.device = device;
  h.label = std::string(label);
  h.token_id = invite.mint().token_id;
  h.org_id = org_id_for(invite.base().org);
  h.minter_key = invite.mint().minter_key;
  h.minted_at = invite.mint().minted_at;
  h.mint_signature = invite.mint().mint_signature;
  SecretBytes sk;
  invite_keypair(invite.mint().invite_secret, h.invite_key, sk);
  Bytes msg = hello_message(hello_signed_part(h));
  crypto_sign_detached(h.signature.data(), nullptr, msg.data(), msg.size(), sk.data());
  return h;
}

}  // namespace satchel
