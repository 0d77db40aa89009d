// `satchel org roster | registration | form --org-key FILE`: signing with the organisation's
// key kept in a file, for scripts. The organisation profile's commands: cli_org_profile.cpp.
#include <ctime>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/cli_org.h"
#include "satchel/crypto/trust_documents.h"

namespace satchel::cli {
namespace {

struct RosterArgs {
  std::string org_key, out, org_name;
  uint64_t version = 0;
  std::vector<std::string> coordinators, relays, pins, backup_pins;
  uint16_t slots = 0;
  int valid_days = 90;
  bool force = false;
};

struct RegistrationArgs {
  std::string org_key, out;
  uint64_t version = 0;
  std::vector<std::string> coordinators;
  uint16_t required_acks = 0;
  bool force = false;
};

struct FormArgs {
  std::string org_key, form, out;
  bool force = false;
};

Result<OrgSecretKey> load_org_key(const std::string& path) {
  auto text = read_secret_key_file(path);
  if (!text) return text.error();
  return OrgSecretKey::from_text(text->span());
}

Result<Hash32> parse_pin(const std::string& hex, const std::string& what) {
  auto b = from_hex(hex);
  if (!b || b->size() != 32)
    return make_error(Errc::kInvalidArgument,
                      what + " must be 64 hex digits (SHA-256 of the SPKI)");
  Hash32 h{};
  std::copy(b->begin(), b->end(), h.begin());
  return h;
}

int roster(const RosterArgs& a) {
  auto org = load_org_key(a.org_key);
  if (!org) return fail(org.error());
  Roster r;
  r.org = org->public_key();
  r.version = a.version;
  r.org_name = a.org_name;
  r.issued_at = static_cast<int64_t>(std::time(nullptr));
  r.expires_at = r.issued_at + int64_t{86400} * a.valid_days;
  for (size_t i = 0; i < a.coordinators.size(); i++) {
    const std::string& c = a.coordinators[i];
    size_t eq = c.rfind('=');
    if (eq == std::string::npos || eq == 0)
      return fail("--coordinator #" + std::to_string(i + 1) + " must be NAME=coordpub-…");
    auto key = CoordinatorPublicKey::from_text(c.substr(eq + 1));
    if (!key) return fail("--coordinator #" + std::to_string(i + 1), key.error());
    r.coordinators.push_back({c.substr(0, eq), *key});
  }
  r.slot_count = a.slots != 0 ? a.slots : static_cast<uint16_t>(r.coordinators.size());
  if (a.pins.size() != a.relays.size() || a.backup_pins.size() != a.relays.size())
    return fail("give one --pin and one --backup-pin per --relay, in the same order");
  for (size_t i = 0; i < a.relays.size(); i++) {
    auto pin = parse_pin(a.pins[i], "--pin #" + std::to_string(i + 1));
    if (!pin) return fail(pin.error());
    auto backup = parse_pin(a.backup_pins[i], "--backup-pin #" + std::to_string(i + 1));
    if (!backup) return fail(backup.error());
    r.relays.push_back({a.relays[i], *pin, *backup});
  }
  auto text = r.sign(*org);
  if (!text) return fail(text.error());
  Status s = write_text_file(a.out, *text + "\n", a.force);
  if (!s) return fail(s.error());
  std::cout << "roster version " << r.version << " for " << r.coordinators.size()
            << " coordinator(s), " << r.slot_count << " slots, expires in " << a.valid_days
            << " days\nwritten to " << a.out << "\n";
  return kExitOk;
}

int registration(const RegistrationArgs& a) {
  auto org = load_org_key(a.org_key);
  if (!org) return fail(org.error());
  RelayRegistration reg;
  reg.org = org->public_key();
  reg.version = a.version;
  reg.issued_at = static_cast<int64_t>(std::time(nullptr));
  reg.required_acks = a.required_acks;
  for (size_t i = 0; i < a.coordinators.size(); i++) {
    auto key = CoordinatorPublicKey::from_text(a.coordinators[i]);
    if (!key) return fail("--coordinator #" + std::to_string(i + 1), key.error());
    reg.coordinator_auth_keys.push_back(key->ed25519);
  }
  auto text = reg.sign(*org);
  if (!text) return fail(text.error());
  Status s = write_text_file(a.out, *text + "\n", a.force);
  if (!s) return fail(s.error());
  std::cout << "relay registration version " << reg.version << " with "
            << reg.coordinator_auth_keys.size() << " coordinator key(s) written to " << a.out
            << "\n";
  return kExitOk;
}

int form(const FormArgs& a) {
  auto org = load_org_key(a.org_key);
  if (!org) return fail(org.error());
  auto content = read_text_file(a.form, 4 * 1024 * 1024);
  if (!content) return fail(content.error());
  nlohmann::json j = nlohmann::json::parse(*content, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(a.form + ": not a JSON object");
  if (!j.contains("id") || !j["id"].is_string())
    return fail(a.form + ": missing string field \"id\"");
  if (!j.contains("version") || !j["version"].is_number_unsigned())
    return fail(a.form + ": missing positive integer field \"version\"");
  const std::string id = j["id"];
  const uint64_t version = j["version"];
  auto text = FormEnvelope::sign_package(*org, id, version, as_bytes(*content),
                                         static_cast<int64_t>(std::time(nullptr)));
  if (!text) return fail(text.error());
  Status s = write_text_file(a.out, *text + "\n", a.force);
  if (!s) return fail(s.error());
  std::cout << "form " << id << " version " << version << " signed; written to " << a.out << "\n";
  return kExitOk;
}

}  // namespace

void add_org_command(CLI::App& app, Action& action) {
  auto* org = app.add_subcommand(
      "org",
      "The organisation: its encrypted profile on an offline machine (profile default: "
      "$XDG_DATA_HOME/ledger), or signing with a key file (roster, registration, form)");
  org->require_subcommand(1);
  add_org_profile_commands(*org, action);

  auto ra = std::make_shared<RosterArgs>();
  auto* r =
      org->add_subcommand("roster", "Sign a roster: coordinators, slot count, relays and pins");
  r->add_option("--org-key", ra->org_key, "organisation secret key file")->required();
  r->add_option("--version", ra->version, "roster version (must grow with every new roster)")
      ->required();
  r->add_option("--org-name", ra->org_name, "the organisation's name, shown to joining devices")
      ->required();
  r->add_option("--coordinator", ra->coordinators, "NAME=coordpub-…; repeat per coordinator")
      ->required();
  r->add_option("--slots", ra->slots, "bundle slots N (default: number of coordinators)")
      ->check(CLI::Range(1, 64));
  r->add_option("--relay", ra->relays, "relay URL (https://…); repeat per relay")->required();
  r->add_option("--pin", ra->pins, "relay TLS SPKI SHA-256, hex; one per --relay")->required();
  r->add_option("--backup-pin", ra->backup_pins, "backup key SPKI SHA-256, hex; one per --relay")
      ->required();
  r->add_option("--valid-days", ra->valid_days, "days until the roster expires (default 90)")
      ->check(CLI::Range(1, 3650));
  r->add_option("-o,--output", ra->out, "roster file to write")->required();
  r->add_flag("--force", ra->force, "overwrite the output file");
  r->callback([&action, ra] { action = [ra] { return roster(*ra); }; });

  auto ga = std::make_shared<RegistrationArgs>();
  auto* g = org->add_subcommand("registration",
                                "Sign a relay registration (coordinators' relay keys only)");
  g->add_option("--org-key", ga->org_key, "organisation secret key file")->required();
  g->add_option("--version", ga->version, "registration version (must grow)")->required();
  g->add_option("--coordinator", ga->coordinators, "coordpub-…; repeat per coordinator")
      ->required();
  g->add_option("--required-acks", ga->required_acks,
                "acknowledgements before the relay deletes a bundle (default: all)");
  g->add_option("-o,--output", ga->out, "registration file to write")->required();
  g->add_flag("--force", ga->force, "overwrite the output file");
  g->callback([&action, ga] { action = [ga] { return registration(*ga); }; });

  auto fa = std::make_shared<FormArgs>();
  auto* f = org->add_subcommand("form",
                                "Sign a form (its JSON \"id\" and \"version\" are signed with it)");
  f->add_option("--org-key", fa->org_key, "organisation secret key file")->required();
  f->add_option("FORM", fa->form, "form JSON file")->required();
  f->add_option("-o,--output", fa->out, "signed form file to write")->required();
  f->add_flag("--force", fa->force, "overwrite the output file");
  f->callback([&action, fa] { action = [fa] { return form(*fa); }; });
}

}  // namespace satchel::cli
