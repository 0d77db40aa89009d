// TEST ONLY. A profile in a fresh temporary directory, with an organisation, a roster of two
// coordinators and a signed testimony form already trusted: the starting point of client tests.
#pragma once

#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <string>

#include "profile/generation_file.h"  // client/src: the keyslot file
#include "satchel/client/profile.h"
#include "satchel/client/trust_store.h"

namespace satchel::testing {

inline constexpr const char* kTestForm = R"({
  "id": "intake", "version": 1,
  "title": {"en": "Testimony intake"},
  "languages": [{"code": "en", "name": "English", "rtl": false}],
  "default_language": "en",
  "questions": [
    {"id": "consent", "type": "consent", "label": {"en": "I agree to share this testimony."}, "required": true},
    {"id": "narrative", "type": "long_text", "label": {"en": "What happened?"}, "required": true,
     "relevant": "${consent} = true"},
    {"id": "files", "type": "attachment", "label": {"en": "Evidence"}, "accept": ["document", "photo", "audio"]}
  ]
})";

inline SecretBytes secret_of(std::string_view s) {
  SecretBytes b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

// The profile keys in home's keyslot file, unlocked with the passphrase (as an examiner who has
// the passphrase would).
inline client::ProfileKeys profile_keys(const std::string& home, const SecretBytes& passphrase) {
  auto file = client::GenerationFile::open(client::keyslots_path(home), client::kKeySlotFileDomain,
                                           client::kKeySlotPayloadSize);
  if (!file) throw std::runtime_error(file.error().message);
  auto keys = client::unlock_keyslots(file->payload(), passphrase);
  if (!keys) throw std::runtime_error(keys.error().message);
  return std::move(keys.value());
}

// The passphrase of every TestProfile.
inline constexpr const char* kTestPassphrase = "test passphrase, not a real one";

struct TestProfile {
  std::string home;
  SecretBytes passphrase = secret_of(kTestPassphrase);
  OrgSecretKey org = OrgSecretKey::generate();
  CoordinatorSecretKey coord_a = CoordinatorSecretKey::generate();
  CoordinatorSecretKey coord_b = CoordinatorSecretKey::generate();
  int64_t now = static_cast<int64_t>(std::time(nullptr));

  explicit TestProfile(const std::string& tag) {
    static int counter = 0;
    home = (std::filesystem::temp_directory_path() /
            ("satchel-test-" + tag + "-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter++)))
               .string();
    std::filesystem::remove_all(home);
    auto info = client::Profile::create(home, passphrase, client::kArgon2Floor);
    if (!info) throw std::runtime_error(info.error().message);
  }
  ~TestProfile() { std::filesystem::remove_all(home); }

  client::Profile open() {
    auto p = client::Profile::open(home, passphrase);
    if (!p) throw std::runtime_error(p.error().message);
    return std::move(p.value());
  }

  Roster roster(uint64_t version) const {
    Roster r;
    r.org = org.public_key();
    r.version = version;
    r.issued_at = now - 60;
    r.expires_at = now + 86400;
    r.org_name = "Example Rights Network";
    r.slot_count = 3;
    r.coordinators = {{"Amira", coord_a.public_key()}, {"Bao", coord_b.public_key()}};
    Hash32 p{}, q{};
    p.fill(1);
    q.fill(2);
    r.relays = {{"https://relay.example.org", p, q}};
    return r;
  }

  // Trusts the organisation and adds roster v1 and the test form.
  void trust_all(client::Profile& p) {
    client::TrustStore t(p);
    if (!t.trust_organisation(org.public_key())) throw std::runtime_error("trust");
    if (!t.add_roster(roster(1).sign(org).value(), now)) throw std::runtime_error("roster");
    auto pkg =
        FormEnvelope::sign_package(org, "intake", 1, as_bytes(std::string_view(kTestForm)), now);
    auto f = t.add_form(pkg.value(), "intake.signed");
    if (!f) throw std::runtime_error(f.error().message);
  }
};

}  // namespace satchel::testing
