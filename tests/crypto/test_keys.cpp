// Key strings, fingerprints and key files.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>
#include <filesystem>
#include <regex>

#include "satchel/crypto/keys.h"

using namespace satchel;

namespace {
std::string text_of(const SecretBytes& s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}
}  // namespace

TEST_CASE("public key strings round-trip for every kind", "[keys]") {
  auto org = OrgSecretKey::generate();
  auto coord = CoordinatorSecretKey::generate();
  auto dev = DeviceSecretKey::generate();
  CHECK(OrgPublicKey::from_text(org.public_key().to_text()).value() == org.public_key());
  CHECK(CoordinatorPublicKey::from_text(coord.public_key().to_text()).value() ==
        coord.public_key());
  CHECK(DevicePublicKey::from_text(dev.public_key().to_text()).value() == dev.public_key());
  CHECK(DevicePublicKey::from_text("  " + dev.public_key().to_text() + "\n").ok());
}

TEST_CASE("secret key strings round-trip and rederive the public key", "[keys]") {
  auto org = OrgSecretKey::generate();
  auto coord = CoordinatorSecretKey::generate();
  auto dev = DeviceSecretKey::generate();
  CHECK(OrgSecretKey::from_text(org.to_text().span()).value().public_key() == org.public_key());
  CHECK(CoordinatorSecretKey::from_text(coord.to_text().span()).value().public_key() ==
        coord.public_key());
  CHECK(DeviceSecretKey::from_text(dev.to_text().span()).value().public_key() == dev.public_key());
}

TEST_CASE("a key of the wrong kind is refused with both kinds named", "[keys]") {
  auto dev = DeviceSecretKey::generate();
  auto r = CoordinatorPublicKey::from_text(dev.public_key().to_text());
  REQUIRE(r.code() == Errc::kKeyWrongKind);
  CHECK(r.error().message.find("device public key") != std::string::npos);
  CHECK(r.error().message.find("coordinator public key") != std::string::npos);
  // A secret key pasted where a public key belongs is refused without echoing it.
  std::string secret = text_of(dev.to_text());
  auto s = DevicePublicKey::from_text(secret);
  REQUIRE(s.code() == Errc::kKeyWrongKind);
  CHECK(s.error().message.find(secret.substr(7)) == std::string::npos);
}

TEST_CASE("every single-character typo in a key string is detected", "[keys]") {
  const std::string good = CoordinatorSecretKey::generate().public_key().to_text();
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  int refused = 0, tried = 0;
  for (size_t i = std::string("coordpub-").size(); i < good.size(); i++) {
    for (char c : alphabet) {
      if (c == good[i]) continue;
      std::string t = good;
      t[i] = c;
      tried++;
      auto r = CoordinatorPublicKey::from_text(t);
      if (!r.ok()) {
        refused++;
        CHECK((r.code() == Errc::kKeyBadChecksum || r.code() == Errc::kKeyMalformed));
      }
    }
  }
  CHECK(refused == tried);
}

TEST_CASE("truncated, extended and foreign key strings are refused", "[keys]") {
  const std::string good = DeviceSecretKey::generate().public_key().to_text();
  CHECK(DevicePublicKey::from_text(good.substr(0, good.size() - 1)).code() == Errc::kKeyMalformed);
  CHECK(DevicePublicKey::from_text(good + "a").code() == Errc::kKeyMalformed);
  CHECK(DevicePublicKey::from_text("age1qyqszqgpqyqszqgpqyqszqgpqyqszqgp").code() ==
        Errc::kKeyMalformed);
  CHECK(DevicePublicKey::from_text("").code() == Errc::kKeyMalformed);
  std::string upper = good;
  upper[10] = '1';
  CHECK(DevicePublicKey::from_text(upper).code() == Errc::kKeyMalformed);
}

TEST_CASE("fingerprints are eight groups of five digits and differ by kind", "[keys]") {
  auto coord = CoordinatorSecretKey::generate();
  const std::string fp = coord.public_key().fingerprint();
  CHECK(std::regex_match(fp, std::regex("([0-9]{5} ){7}[0-9]{5}")));
  CHECK(fp != fingerprint(KeyKind::kDevicePublic, coord.public_key().x25519));
  CHECK(fp != CoordinatorSecretKey::generate().public_key().fingerprint());
}

TEST_CASE("key files are created 0600, never overwritten, and read back", "[keys]") {
  auto dir =
      std::filesystem::temp_directory_path() / ("satchel-keys-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "org.key").string();
  auto org = OrgSecretKey::generate();
  REQUIRE(write_secret_key_file(path, org.to_text(), org.public_key().to_text()).ok());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(write_secret_key_file(path, org.to_text(), "x").code() == Errc::kAlreadyExists);
  auto text = read_secret_key_file(path);
  REQUIRE(text.ok());
  CHECK(OrgSecretKey::from_text(text->span()).value().public_key() == org.public_key());
  CHECK(read_secret_key_file((dir / "missing.key").string()).code() == Errc::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST_CASE("small-order X25519 public keys are refused", "[keys]") {
  DevicePublicKey d;
  d.x25519[0] = 1;  // u = 1: order 1
  CHECK(DevicePublicKey::from_text(d.to_text()).code() == Errc::kKeyInvalid);
  d.x25519 = Key32{};
  CHECK(DevicePublicKey::from_text(d.to_text()).code() == Errc::kKeyInvalid);
  CHECK(x25519_public_usable(DeviceSecretKey::generate().public_key().x25519));
}

namespace {

// p + k for p = 2^255 - 19 and a small k (< 19): a non-canonical name for u = k.
Key32 p_plus(uint8_t k) {
  Key32 u;
  u.fill(0xff);
  u[0] = static_cast<uint8_t>(0xed + k);
  u[31] = 0x7f;
  return u;
}

}  // namespace

TEST_CASE("exactly the X25519 encodings below 2^255 - 19 are canonical", "[keys]") {
  CHECK(x25519_noncanonical_reason(Key32{}) == nullptr);
  CHECK(x25519_noncanonical_reason(DeviceSecretKey::generate().public_key().x25519) == nullptr);
  Key32 p_minus_1 = p_plus(0);
  p_minus_1[0] = 0xec;
  CHECK(x25519_noncanonical_reason(p_minus_1) == nullptr);
  Key32 below = p_plus(18);  // 2^255 - 1 - 2^240: below p, though its low byte is 0xff
  below[30] = 0xfe;
  CHECK(x25519_noncanonical_reason(below) == nullptr);
  for (uint8_t k : {uint8_t{0}, uint8_t{1}, uint8_t{9}, uint8_t{18}}) {  // p, p+1, p+9, 2^255-1
    CAPTURE(int{k});
    CHECK(std::string(x25519_noncanonical_reason(p_plus(k))) == "its value is 2^255 - 19 or more");
  }
  Key32 top = Key32{};
  top[31] = 0x80;
  CHECK(std::string(x25519_noncanonical_reason(top)) == "bit 255 is set");
}

TEST_CASE("key strings naming a second encoding of an X25519 key are refused", "[keys]") {
  DevicePublicKey d = DeviceSecretKey::generate().public_key();
  d.x25519[31] |= 0x80;  // the same key to X25519, another key string and fingerprint
  auto dev = DevicePublicKey::from_text(d.to_text());
  CHECK(dev.code() == Errc::kKeyInvalid);
  CHECK(dev.error().message.find("not a canonical X25519 encoding: bit 255 is set") !=
        std::string::npos);
  d.x25519 = p_plus(9);
  CHECK(DevicePublicKey::from_text(d.to_text()).code() == Errc::kKeyInvalid);

  CoordinatorPublicKey c = CoordinatorSecretKey::generate().public_key();
  c.x25519[31] |= 0x80;
  auto coord = CoordinatorPublicKey::from_text(c.to_text());
  CHECK(coord.code() == Errc::kKeyInvalid);
  CHECK(coord.error().message.find("coordinator public key (coordpub-) is not a canonical") !=
        std::string::npos);
}
