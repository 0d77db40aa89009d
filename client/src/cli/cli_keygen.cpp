// `satchel keygen org|coordinator|device|backup -o FILE`: a new secret key file (0600); prints
// the public key and its fingerprint.
#include <iostream>

#include "cli/cli.h"
#include "satchel/crypto/keys.h"

namespace satchel::cli {

namespace {

// Prints the kind and fingerprint of a public key string of any kind.
int show_fingerprint(const std::string& text) {
  if (auto o = OrgPublicKey::from_text(text)) {
    std::cout << "organisation public key\nfingerprint: " << o->fingerprint() << "\n";
  } else if (auto c = CoordinatorPublicKey::from_text(text)) {
    std::cout << "coordinator public key\nfingerprint: " << c->fingerprint() << "\n";
  } else if (auto d = DevicePublicKey::from_text(text)) {
    std::cout << "device public key\nfingerprint: " << d->fingerprint() << "\n";
  } else if (auto b = BackupPublicKey::from_text(text)) {
    std::cout << "backup public key\nfingerprint: " << b->fingerprint() << "\n";
  } else {
    // Report against the kind its prefix claims, so a typo is named as a typo.
    return fail(o.code() != Errc::kKeyWrongKind   ? o.error()
                : c.code() != Errc::kKeyWrongKind ? c.error()
                : d.code() != Errc::kKeyWrongKind ? d.error()
                                                  : b.error());
  }
  return kExitOk;
}

}  // namespace

void add_keygen_command(CLI::App& app, Action& action) {
  auto key = std::make_shared<std::string>();
  auto* fpc = app.add_subcommand(
      "fingerprint", "Show the fingerprint of a public key (to read aloud and compare)");
  fpc->add_option("PUBKEY", *key, "orgpub-…, coordpub-…, devpub-… or backuppub-…")->required();
  fpc->callback([&action, key] { action = [key] { return show_fingerprint(*key); }; });

  auto* cmd = app.add_subcommand(
      "keygen",
      "Generate a key: org (offline signing key), coordinator, device, or backup (kept offline: "
      "opens a coordinator's backups)");
  auto kind = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  cmd->add_option("kind", *kind, "org | coordinator | device | backup")
      ->required()
      ->check(CLI::IsMember({"org", "coordinator", "device", "backup"}));
  cmd->add_option("-o,--output", *out, "secret key file to create (mode 0600; never overwritten)")
      ->required();
  cmd->callback([&action, kind, out] {
    action = [kind, out]() -> int {
      SecretBytes secret;
      std::string pub, fp;
      if (*kind == "org") {
        auto k = OrgSecretKey::generate();
        secret = k.to_text();
        pub = k.public_key().to_text();
        fp = k.public_key().fingerprint();
      } else if (*kind == "coordinator") {
        auto k = CoordinatorSecretKey::generate();
        secret = k.to_text();
        pub = k.public_key().to_text();
        fp = k.public_key().fingerprint();
      } else if (*kind == "backup") {
        auto k = BackupSecretKey::generate();
        secret = k.to_text();
        pub = k.public_key().to_text();
        fp = k.public_key().fingerprint();
      } else {
        auto k = DeviceSecretKey::generate();
        secret = k.to_text();
        pub = k.public_key().to_text();
        fp = k.public_key().fingerprint();
      }
      Status s = write_secret_key_file(*out, secret, pub);
      if (!s) return fail(s.error());
      std::cout << "public key: " << pub << "\nfingerprint: " << fp << "\n";
      if (*kind == "org")
        std::cerr << "Keep " << *out << " offline: it signs everything your devices will trust.\n";
      if (*kind == "backup")
        std::cerr << "Keep " << *out << " offline: it opens every backup made for it, and a "
                  << "backup holds the coordinator's key and every record.\n";
      return kExitOk;
    };
  });
}

}  // namespace satchel::cli
