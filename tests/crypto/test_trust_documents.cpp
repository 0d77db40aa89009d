// Trust documents: signing, verification, rollback, expiry, cross-type replay, invites.
#include <sodium.h>

#include <catch2/catch_test_macros.hpp>
#include <functional>

#include "satchel/crypto/invite.h"
#include "satchel/crypto/sha256.h"
#include "satchel/crypto/trust_documents.h"

using namespace satchel;

namespace {

constexpr int64_t kNow = 1800000000;

struct World {
  OrgSecretKey org = OrgSecretKey::generate();
  CoordinatorSecretKey a = CoordinatorSecretKey::generate();
  CoordinatorSecretKey b = CoordinatorSecretKey::generate();

  Roster roster(uint64_t version, int64_t expires = kNow + 3600) const {
    Roster r;
    r.org = org.public_key();
    r.version = version;
    r.issued_at = kNow - 60;
    r.expires_at = expires;
    r.org_name = "Example Rights Network";
    r.slot_count = 4;
    r.coordinators = {{"Amira", a.public_key()}, {"Bao \u0628", b.public_key()}};
    Hash32 p{}, q{};
    p.fill(1);
    q.fill(2);
    r.relays = {{"https://relay.example.org:8443", p, q}};
    return r;
  }
};

}  // namespace

TEST_CASE("a signed roster verifies and carries every field", "[docs]") {
  World w;
  auto text = w.roster(5).sign(w.org);
  REQUIRE(text.ok());
  CHECK(text->rfind("roster-", 0) == 0);
  auto r = Roster::verify(*text, w.org.public_key(), kNow);
  REQUIRE(r.ok());
  CHECK(r->version == 5);
  CHECK(r->slot_count == 4);
  CHECK(r->coordinators.size() == 2);
  CHECK(r->coordinators[1].name == "Bao \u0628");
  CHECK(r->coordinators[0].key == w.a.public_key());
  CHECK(r->relays[0].url == "https://relay.example.org:8443");
  CHECK(r->org_id() == org_id_for(w.org.public_key()));
}

TEST_CASE("an older or equal roster is refused: no rollback", "[docs]") {
  World w;
  auto v3 = Roster::verify(w.roster(3).sign(w.org).value(), w.org.public_key(), kNow).value();
  auto v2 = Roster::verify(w.roster(2).sign(w.org).value(), w.org.public_key(), kNow).value();
  auto v4 = Roster::verify(w.roster(4).sign(w.org).value(), w.org.public_key(), kNow).value();
  CHECK(check_roster_update(std::nullopt, v2).ok());
  CHECK(check_roster_update(v3, v2).code() == Errc::kDocRollback);
  CHECK(check_roster_update(v3, v3).code() == Errc::kDocRollback);
  CHECK(check_roster_update(v3, v4).ok());
}

TEST_CASE("an expired roster is refused", "[docs]") {
  World w;
  auto text = w.roster(1, kNow).sign(w.org).value();
  CHECK(Roster::verify(text, w.org.public_key(), kNow).code() == Errc::kDocExpired);
  CHECK(Roster::verify(text, w.org.public_key(), kNow - 1).ok());
}

TEST_CASE("a roster signed by another organisation is refused", "[docs]") {
  World w, other;
  auto text = other.roster(1).sign(other.org).value();
  CHECK(Roster::verify(text, w.org.public_key(), kNow).code() == Errc::kDocUntrustedSigner);
}

TEST_CASE("invalid rosters cannot be signed", "[docs]") {
  World w;
  Roster r = w.roster(1);
  r.slot_count = 1;  // fewer slots than coordinators
  CHECK(r.sign(w.org).code() == Errc::kDocInvalidField);
  r = w.roster(1);
  r.relays[0].url = "http://relay.example.org";
  CHECK(r.sign(w.org).code() == Errc::kDocInvalidField);
  r = w.roster(1);
  r.coordinators[1].key = r.coordinators[0].key;
  CHECK(r.sign(w.org).code() == Errc::kDocInvalidField);
  r = w.roster(1);
  r.coordinators[0].name = "tab\there";
  CHECK(r.sign(w.org).code() == Errc::kDocInvalidField);
  for (std::string bad :
       {"\xc0\xaf", "\xed\xa0\x80", "a\u202eb", "\xc2\x85", "x\xf4\x90\x80\x80"}) {
    r = w.roster(1);
    r.coordinators[0].name = bad;
    CHECK(r.sign(w.org).code() == Errc::kDocInvalidField);
  }
  r = w.roster(1);
  r.coordinators[0].key.x25519 = Key32{};
  r.coordinators[0].key.x25519[0] = 1;  // the point of order 1 (u = 1 is small-order)
  CHECK(r.sign(w.org).code() == Errc::kDocInvalidField);
  r = w.roster(0);
  CHECK(r.sign(w.org).code() == Errc::kDocInvalidField);
  CHECK(w.roster(1).sign(OrgSecretKey::generate()).code() == Errc::kInvalidArgument);
}

TEST_CASE("registrations only move forward, under the same organisation", "[docs]") {
  World w, other;
  RelayRegistration r1;
  r1.org = w.org.public_key();
  r1.version = 1;
  r1.coordinator_auth_keys = {w.a.public_key().ed25519};
  RelayRegistration r2 = r1;
  r2.version = 2;
  RelayRegistration foreign = r2;
  foreign.org = other.org.public_key();
  CHECK(check_registration_update(std::nullopt, r1).ok());
  CHECK(check_registration_update(r1, r2).ok());
  CHECK(check_registration_update(r2, r1).code() == Errc::kDocRollback);
  CHECK(check_registration_update(r1, foreign).code() == Errc::kDocUntrustedSigner);
}

TEST_CASE("a form signature replayed as a roster is refused", "[docs]") {
  World w;
  auto pkg =
      FormEnvelope::sign_package(w.org, "gcm", 1, as_bytes(std::string_view("{}")), kNow).value();
  Bytes wire = from_base64url(std::string_view(pkg).substr(5)).value();
  uint32_t len =
      static_cast<uint32_t>(wire[2] | (wire[3] << 8) | (wire[4] << 16) | (wire[5] << 24));
  Bytes doc(wire.begin(), wire.begin() + 6 + len + 64);
  // As-is it is the wrong type; relabelled, its signature does not cover a roster.
  CHECK(Roster::verify(armor_document(DocType::kRoster, doc), w.org.public_key(), kNow).code() ==
        Errc::kDocWrongType);
  doc[1] = static_cast<uint8_t>(DocType::kRoster);
  CHECK(Roster::verify(armor_document(DocType::kRoster, doc), w.org.public_key(), kNow).code() ==
        Errc::kDocBadSignature);
}

TEST_CASE("signed forms verify, detect altered content and refuse older versions", "[docs]") {
  World w;
  std::string json = R"({"id":"intake","version":3})";
  auto pkg = FormEnvelope::sign_package(w.org, "intake", 3, as_bytes(json), kNow).value();
  auto v = FormEnvelope::verify_package(pkg, w.org.public_key());
  REQUIRE(v.ok());
  CHECK(v->first.form_id == "intake");
  CHECK(v->first.form_version == 3);
  CHECK(std::string(v->second.begin(), v->second.end()) == json);
  CHECK(check_form_update(2, v->first).ok());
  CHECK(check_form_update(3, v->first).code() == Errc::kDocRollback);
  CHECK(check_form_update(std::nullopt, v->first).ok());
  Bytes wire = from_base64url(std::string_view(pkg).substr(5)).value();
  wire.back() ^= 1;
  CHECK(
      FormEnvelope::verify_package(armor_document(DocType::kFormEnvelope, wire), w.org.public_key())
          .code() == Errc::kDocContentMismatch);
  CHECK(FormEnvelope::sign_package(w.org, "no spaces", 1, as_bytes(json), kNow).code() ==
        Errc::kDocInvalidField);
}

TEST_CASE("relay registrations carry only authentication keys", "[docs]") {
  World w;
  RelayRegistration reg;
  reg.org = w.org.public_key();
  reg.version = 2;
  reg.required_acks = 1;
  reg.coordinator_auth_keys = {w.a.public_key().ed25519, w.b.public_key().ed25519};
  auto text = reg.sign(w.org).value();
  auto v = RelayRegistration::verify(text, std::nullopt);
  REQUIRE(v.ok());
  CHECK(v->coordinator_auth_keys == reg.coordinator_auth_keys);
  CHECK(v->required_acks == 1);
  CHECK(RelayRegistration::verify(text, OrgSecretKey::generate().public_key()).code() ==
        Errc::kDocUntrustedSigner);
  // No encryption key or name appears in it.
  Bytes wire = from_base64url(std::string_view(text).substr(13)).value();
  std::string raw(wire.begin(), wire.end());
  CHECK(raw.find(std::string(w.a.public_key().x25519.begin(), w.a.public_key().x25519.end())) ==
        std::string::npos);
  reg.required_acks = 3;
  CHECK(reg.sign(w.org).code() == Errc::kDocInvalidField);
}

TEST_CASE("an invite is trusted only after its fingerprint is confirmed", "[docs]") {
  World w;
  InviteBase c;
  c.org = w.org.public_key();
  c.roster_text = w.roster(1).sign(w.org).value();
  c.enrollment_secret = SecretBytes(32);
  c.publication_key = SecretBytes(32);
  randombytes_buf(c.enrollment_secret.data(), 32);
  randombytes_buf(c.publication_key.data(), 32);
  c.forms = {{"gcm-input", 1, Sha256::digest(as_bytes(std::string_view("a")))},
             {"testimony", 2, Sha256::digest(as_bytes(std::string_view("b")))}};
  c.issued_at = kNow - 1;
  c.expires_at = kNow + 3600;
  auto base_text = c.sign(w.org);
  REQUIRE(base_text.ok());
  auto base = SignedInviteBase::verify(base_text->span(), w.org.public_key(), kNow);
  REQUIRE(base.ok());
  CHECK(SignedInviteBase::verify(base_text->span(), OrgSecretKey::generate().public_key(), kNow)
            .code() == Errc::kDocUntrustedSigner);
  SecretBytes code(32);
  std::memset(code.data(), 'k', 32);
  const TokenId token{9, 8, 7, 6, 5, 4, 3, 2};
  auto minted = mint_invite(*base, code, kNow + 600, 0, token, kNow, w.a);
  REQUIRE(minted.ok());
  CHECK(mint_invite(*base, code, kNow + 600, 1, token, kNow, w.a).code() == Errc::kDocInvalidField);
  const SecretBytes& text = minted->text;
  // Fits one QR code (version 40, alphanumeric, ECC L: 4296 characters).
  CHECK(text.size() <= 4296);
  for (size_t i = 0; i < text.size(); i++) {
    char ch = static_cast<char>(text.data()[i]);
    CHECK(((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-'));
  }
  auto inv = UnconfirmedInvite::parse(text.span());
  REQUIRE(inv.ok());
  CHECK(inv->fingerprint() == w.org.public_key().fingerprint());
  CHECK(inv->claimed_org_name() == "Example Rights Network");
  auto wrong = UnconfirmedInvite::parse(text.span()).value();
  CHECK(
      std::move(wrong).confirm(OrgSecretKey::generate().public_key().fingerprint(), kNow).code() ==
      Errc::kDocNotConfirmed);
  auto expired = UnconfirmedInvite::parse(text.span()).value();
  CHECK(std::move(expired).confirm(w.org.public_key().fingerprint(), kNow + 3600).code() ==
        Errc::kDocExpired);
  auto ok = std::move(inv.value()).confirm(w.org.public_key().fingerprint(), kNow);
  REQUIRE(ok.ok());
  CHECK(ok->roster().version == 1);
  CHECK(ok->base().forms.size() == 2);
  CHECK(ok->base().enrollment_secret.equals(c.enrollment_secret.span()));
  CHECK(ok->mint().relay_code.equals(code.span()));
  CHECK(ok->mint().token_id == token);
  CHECK(ok->id() == minted->id);
  CHECK(ok->relay().url == w.roster(1).relays[0].url);
}

TEST_CASE("two invites minted from one base have different secrets and ids", "[docs]") {
  World w;
  InviteBase c;
  c.org = w.org.public_key();
  c.roster_text = w.roster(1).sign(w.org).value();
  c.enrollment_secret = SecretBytes(32);
  c.publication_key = SecretBytes(32);
  c.issued_at = kNow - 1;
  c.expires_at = kNow + 3600;
  auto base = SignedInviteBase::verify(c.sign(w.org).value().span(), c.org, kNow).value();
  SecretBytes code(20);
  std::memset(code.data(), 'c', 20);
  auto one = mint_invite(base, code, kNow + 60, 0, TokenId{}, kNow, w.a).value();
  auto two = mint_invite(base, code, kNow + 60, 0, TokenId{}, kNow, w.a).value();
  CHECK(one.id != two.id);
  CHECK_FALSE(one.text.equals(two.text.span()));
}

TEST_CASE("a device hello verifies only for its sender, its organisation and its mint", "[docs]") {
  World w;
  InviteBase c;
  c.org = w.org.public_key();
  c.roster_text = w.roster(1).sign(w.org).value();
  c.enrollment_secret = SecretBytes(32);
  c.publication_key = SecretBytes(32);
  c.issued_at = kNow - 1;
  c.expires_at = kNow + 3600;
  auto base = SignedInviteBase::verify(c.sign(w.org).value().span(), c.org, kNow).value();
  SecretBytes code(20);
  std::memset(code.data(), 'c', 20);
  auto minted = mint_invite(base, code, kNow + 60, 0, TokenId{1}, kNow, w.a).value();
  auto confirmed = UnconfirmedInvite::parse(minted.text.span())
                       .value()
                       .confirm(c.org.fingerprint(), kNow)
                       .value();
  auto dev = DeviceSecretKey::generate();
  auto hello = make_device_hello(confirmed, dev.public_key(), "phone é").value();
  auto parsed = DeviceHello::parse(hello.encode());
  REQUIRE(parsed.ok());
  const OrgId org = org_id_for(c.org);
  CHECK(parsed->verify(dev.public_key(), org).ok());
  CHECK(parsed->invite_id() == minted.id);
  CHECK(parsed->minter_key == w.a.public_key().ed25519);
  CHECK(parsed->verify(DeviceSecretKey::generate().public_key(), org).code() ==
        Errc::kDocInvalidField);
  CHECK(
      parsed->verify(dev.public_key(), org_id_for(OrgSecretKey::generate().public_key())).code() ==
      Errc::kDocUntrustedSigner);
  DeviceHello relabelled = *parsed;
  relabelled.label = "someone else";
  CHECK(relabelled.verify(dev.public_key(), org).code() == Errc::kDocBadSignature);
  CHECK(make_device_hello(confirmed, dev.public_key(), "").code() == Errc::kInvalidArgument);
  Bytes cut = hello.encode();
  cut.pop_back();
  CHECK(DeviceHello::parse(cut).code() == Errc::kDocMalformed);
}

TEST_CASE("relay challenges are bound to the relay pin and the mailbox", "[docs]") {
  World w;
  Hash32 pin{}, other_pin{};
  pin.fill(7);
  other_pin.fill(8);
  Bytes nonce(32, 9);
  Bytes msg =
      relay_challenge_message(pin, as_bytes(std::string_view("mailbox-1")), nonce, kNow).value();
  auto sig = sign_relay_challenge(w.a, msg);
  CHECK(verify_relay_challenge(w.a.public_key().ed25519, msg, sig));
  CHECK_FALSE(verify_relay_challenge(w.b.public_key().ed25519, msg, sig));
  CHECK_FALSE(verify_relay_challenge(
      w.a.public_key().ed25519,
      relay_challenge_message(pin, as_bytes(std::string_view("mailbox-2")), nonce, kNow).value(),
      sig));
  CHECK_FALSE(verify_relay_challenge(
      w.a.public_key().ed25519,
      relay_challenge_message(other_pin, as_bytes(std::string_view("mailbox-1")), nonce, kNow)
          .value(),
      sig));
  CHECK(relay_challenge_message(pin, Bytes(65, 1), nonce, kNow).code() == Errc::kInvalidArgument);
}

namespace {

// The roster's signed body with `edit` applied, validly signed again: what a careless or hostile
// signer could publish, bypassing Roster::sign's own checks.
std::string resigned_roster(const World& w, const Roster& r,
                            const std::function<void(Bytes& body)>& edit) {
  const std::string text = r.sign(w.org).value();
  const Bytes wire = from_base64url(std::string_view(text).substr(7)).value();
  const uint32_t len =
      static_cast<uint32_t>(wire[2] | (wire[3] << 8) | (wire[4] << 16) | (wire[5] << 24));
  Bytes body(wire.begin() + 6, wire.begin() + 6 + len);
  edit(body);
  return armor_document(DocType::kRoster, sign_document(DocType::kRoster, body, w.org));
}

// Offset of coordinator i's X25519 key in a roster body.
size_t coordinator_x25519_at(const Roster& r, size_t i) {
  size_t at = 76 + 2 + r.org_name.size();
  for (size_t j = 0; j < i; j++) at += 2 + r.coordinators[j].name.size() + 64;
  return at + 2 + r.coordinators[i].name.size();
}

}  // namespace

TEST_CASE("a roster naming a coordinator key with bit 255 set is refused", "[docs]") {
  World w;
  Roster r = w.roster(1);
  r.coordinators[0].key.x25519[31] |= 0x80;
  auto signed_text = r.sign(w.org);
  CHECK(signed_text.code() == Errc::kDocInvalidField);
  CHECK(signed_text.error().message.find("coordinator 1 has an X25519 key that is not a canonical "
                                         "encoding: bit 255 is set") != std::string::npos);

  const Roster good = w.roster(1);
  const std::string text = resigned_roster(
      w, good, [&](Bytes& body) { body[coordinator_x25519_at(good, 0) + 31] |= 0x80; });
  CHECK(Roster::verify(text, w.org.public_key(), kNow).code() == Errc::kDocInvalidField);
}

TEST_CASE("a roster naming one coordinator key twice under two encodings is refused", "[docs]") {
  // X25519 treats both encodings alike: the same coordinator would fill two slots, and count
  // twice towards a roster's recipients.
  World w;
  const Roster good = w.roster(1);
  const std::string text = resigned_roster(w, good, [&](Bytes& body) {
    const size_t first = coordinator_x25519_at(good, 0), second = coordinator_x25519_at(good, 1);
    std::copy_n(body.begin() + static_cast<std::ptrdiff_t>(first), 32,
                body.begin() + static_cast<std::ptrdiff_t>(second));
    body[second + 31] |= 0x80;
  });
  auto ro = Roster::verify(text, w.org.public_key(), kNow);
  CHECK(ro.code() == Errc::kDocInvalidField);
  CHECK(ro.error().message.find("coordinator 2") != std::string::npos);
}

TEST_CASE("a roster naming a coordinator key of value 2^255 - 19 or more is refused", "[docs]") {
  World w;
  Roster r = w.roster(1);
  r.coordinators[1].key.x25519.fill(0xff);
  r.coordinators[1].key.x25519[0] = 0xf6;  // p + 9: a second name for u = 9
  r.coordinators[1].key.x25519[31] = 0x7f;
  auto signed_text = r.sign(w.org);
  CHECK(signed_text.code() == Errc::kDocInvalidField);
  CHECK(signed_text.error().message.find("2^255 - 19 or more") != std::string::npos);
}
