// `satchel trust org PUBKEY` and `satchel roster add FILE`: the device's trust anchors, kept in
// the encrypted profile.
#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <iostream>

#include "cli/cli.h"
#include "cli/cli_session.h"
#include "cli/cli_trust.h"
#include "satchel/client/passphrase.h"
#include "satchel/client/trust_store.h"

namespace satchel::cli {

std::string digits_only(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c >= '0' && c <= '9') out += c;
  return out;
}

int trust_org(const std::string& key_text, const std::string& confirm, client::ProfileKind kind) {
  auto key = OrgPublicKey::from_text(key_text);
  if (!key) return fail(key.error());
  const std::string fp = key->fingerprint();
  std::string typed = confirm;
  if (typed.empty()) {
    if (!client::write_to_terminal(
            "Organisation fingerprint: " + fp +
            "\nCompare it with the one your organisation gave you in person or by "
            "phone.\nType it to confirm: "))
      return fail("no terminal to confirm the fingerprint: pass --confirm FINGERPRINT");
    auto src = client::PassphraseSource{};
    int tty = ::open("/dev/tty", O_RDONLY | O_CLOEXEC);
    if (tty < 0) return fail("no terminal to confirm the fingerprint: pass --confirm FINGERPRINT");
    src.fd = tty;
    auto line = client::read_passphrase(src, "");
    ::close(tty);
    if (!line) return fail(line.error());
    typed.assign(reinterpret_cast<const char*>(line->data()), line->size());
  }
  if (digits_only(typed) != digits_only(fp))
    return fail(
        "fingerprint does not match: the key was NOT trusted. Check with your organisation.");
  auto profile = open_profile(kind);
  if (!profile) return fail(profile.error());
  client::TrustStore trust(*profile);
  Status s = trust.trust_organisation(*key);
  if (!s) return fail(s.error());
  std::cout << "organisation trusted (fingerprint " << fp << ")\n";
  return kExitOk;
}

int roster_add(const std::string& path, client::ProfileKind kind) {
  auto text = read_text_file(path, 256 * 1024);
  if (!text) return fail(text.error());
  auto profile = open_profile(kind);
  if (!profile) return fail(profile.error());
  client::TrustStore trust(*profile);
  auto r = trust.add_roster(*text, static_cast<int64_t>(std::time(nullptr)));
  if (!r) return fail(make_error(r.error().code, path + ": " + r.error().message));
  std::cout << "roster version " << r->version << " accepted: " << r->coordinators.size()
            << " coordinator(s), " << r->slot_count << " slots\n";
  for (const auto& c : r->coordinators)
    std::cout << "  " << c.name << "  " << c.key.fingerprint() << "\n";
  return kExitOk;
}

void add_trust_commands(CLI::App& app, Action& action) {
  auto* trust = app.add_subcommand(
      "trust", "Trust an organisation's signing key (after comparing its fingerprint)");
  trust->require_subcommand(1);
  auto key = std::make_shared<std::string>();
  auto confirm = std::make_shared<std::string>();
  auto* org = trust->add_subcommand("org", "Trust the organisation key PUBKEY (orgpub-…)");
  org->add_option("PUBKEY", *key, "organisation public key")->required();
  org->add_option("--confirm", *confirm,
                  "the fingerprint, for scripts (otherwise typed at the terminal)");
  org->callback([&action, key, confirm] {
    action = [key, confirm] { return trust_org(*key, *confirm, client::ProfileKind::kField); };
  });

  auto* roster = app.add_subcommand("roster", "Manage the roster of coordinators");
  roster->require_subcommand(1);
  auto file = std::make_shared<std::string>();
  auto* add = roster->add_subcommand(
      "add", "Accept an organisation-signed roster (newer and unexpired only)");
  add->add_option("ROSTER", *file, "roster file")->required();
  add->callback([&action, file] {
    action = [file] { return roster_add(*file, client::ProfileKind::kField); };
  });
}

}  // namespace satchel::cli
