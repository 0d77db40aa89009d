// `satchel org init | set | show | coordinator add|remove | relay add|set-pins|remove | forms add |
// publish | invite-base`: the organisation profile, meant for an offline machine.
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>

#include "cli/cli_org.h"
#include "cli/cli_session.h"
#include "satchel/org/org_forms.h"
#include "satchel/org/org_invite_base.h"
#include "satchel/org/org_profile.h"
#include "satchel/org/org_publication.h"
#include "satchel/org/org_state.h"

namespace satchel::cli {
namespace {

using client::ProfileKind;

int64_t now() {
  return static_cast<int64_t>(std::time(nullptr));
}

std::string day(int64_t t) {
  return format_utc(t, "%Y-%m-%d");
}

struct OrgInitArgs {
  InitArgs init;
  org::OrgSettings settings;
  std::string import_key;
};

int org_init(const OrgInitArgs& a) {
  if (Status s = org::check_settings(a.settings); !s) return fail(s.error());
  std::optional<org::KeyImport> import;
  if (!a.import_key.empty()) {
    auto read = org::read_key_file(a.import_key);
    if (!read) return fail(read.error());
    import = std::move(read.value());
  }
  const std::string home = profile_home(ProfileKind::kOrganisation);
  if (auto w = swap_warning()) std::cerr << *w << "\n";
  auto pass = new_passphrase(a.init.allow_weak);
  if (!pass) return fail(pass.error());
  const client::Argon2Params params = argon2_params(a.init);
  auto made = org::create_profile(home, *pass, params, a.settings, std::move(import));
  if (!made) return fail(made.error());
  const OrgPublicKey& key = *made->info.organisation;
  std::cout << "organisation profile created in " << home << "\nArgon2id: " << params.passes
            << " passes, " << params.memory_kib / 1024
            << " MiB, 1 lane\norganisation: " << a.settings.name
            << "\norganisation key: " << key.to_text()
            << "\norganisation fingerprint: " << key.fingerprint() << "\n";
  std::cerr << "Keep this machine offline: the profile holds the key that signs everything "
               "devices trust.\n";
  if (a.import_key.empty()) return kExitOk;
  if (made->not_shredded)
    return fail("the profile holds the key, but " + a.import_key +
                " could not be shredded: remove it yourself (" + made->not_shredded->message + ")");
  std::cout << a.import_key << " overwritten and removed\n";
  return kExitOk;
}

struct SetArgs {
  std::string name;
  uint32_t valid_days = 0;
  uint16_t slots = 0, required_acks = 0;
  CLI::Option *name_opt = nullptr, *days_opt = nullptr, *slots_opt = nullptr, *acks_opt = nullptr;
};

int org_set(const SetArgs& a) {
  auto profile = open_profile(ProfileKind::kOrganisation);
  if (!profile) return fail(profile.error());
  if (!a.name_opt->count() && !a.days_opt->count() && !a.slots_opt->count() && !a.acks_opt->count())
    return fail("give what to change: --name, --valid-days, --slots or --required-acks");
  auto s = org::settings(*profile);
  if (!s) return fail(s.error());
  if (a.name_opt->count()) s->name = a.name;
  if (a.days_opt->count()) s->valid_days = a.valid_days;
  if (a.slots_opt->count()) s->slots = a.slots;
  if (a.acks_opt->count()) s->required_acks = a.required_acks;
  if (Status st = org::set_settings(*profile, *s); !st) return fail(st.error());
  std::cout << "settings saved; `satchel org publish` signs a new roster if they change it\n";
  return kExitOk;
}

int org_show() {
  auto profile = open_profile(ProfileKind::kOrganisation);
  if (!profile) return fail(profile.error());
  auto key = profile->organisation_key();
  if (!key) return fail(key.error());
  auto s = org::settings(*profile);
  if (!s) return fail(s.error());
  auto coordinators = org::coordinators(*profile);
  if (!coordinators) return fail(coordinators.error());
  auto relays = org::relays(*profile);
  if (!relays) return fail(relays.error());
  auto forms = org::forms(*profile);
  if (!forms) return fail(forms.error());
  auto last = org::last_publication(*profile);
  if (!last) return fail(last.error());
  auto pending = org::pending_changes(*profile, now());
  if (!pending) return fail(pending.error());
  std::cout << "organisation: " << s->name << "\nkey: " << key->public_key().to_text()
            << "\nfingerprint: " << key->public_key().fingerprint() << "\nroster: ";
  if (last->roster_version)
    std::cout << "version " << last->roster_version << ", expires " << day(last->roster_expires_at);
  else
    std::cout << "none published yet";
  std::cout << "\nregistration: ";
  if (last->registration_version)
    std::cout << "version " << last->registration_version;
  else
    std::cout << "none published yet";
  std::cout << "\nsettings: a roster is valid " << s->valid_days
            << " days from its signing; slots: "
            << (s->slots ? std::to_string(s->slots) : std::string("one per coordinator"))
            << "; acknowledgements required: "
            << (s->required_acks ? std::to_string(s->required_acks) : std::string("all"))
            << "\ncoordinators: " << coordinators->size() << "\n";
  for (const auto& c : *coordinators)
    std::cout << "  " << c.name << "  " << c.key.fingerprint() << "\n";
  std::cout << "relays: " << relays->size() << "\n";
  for (const auto& r : *relays)
    std::cout << "  " << r.url << "\n    pin " << to_hex(r.spki_pin) << "\n    backup pin "
              << to_hex(r.backup_pin) << "\n";
  std::cout << "forms: " << forms->size() << " package(s)\n";
  for (const auto& f : *forms)
    std::cout << "  #" << f.number << "  " << f.form_id << " version " << f.version
              << (f.number > last->forms_published ? "  (not published yet)" : "") << "\n";
  std::cout << "unpublished changes: " << (pending->any() ? org::describe(*pending) : "none")
            << "\n";
  return kExitOk;
}

int coordinator_add(const std::string& name, const std::string& key_text,
                    const std::string& confirm) {
  auto key = CoordinatorPublicKey::from_text(key_text);
  if (!key) return fail("COORDPUB", key.error());
  auto profile = open_profile(ProfileKind::kOrganisation);
  if (!profile) return fail(profile.error());
  if (Status s = org::add_coordinator(*profile, {name, *key}, confirm); !s) return fail(s.error());
  std::cout << "coordinator " << name << " added (" << key->fingerprint()
            << "); `satchel org publish` signs the new roster and registration\n";
  return kExitOk;
}

int coordinator_remove(const std::string& name) {
  auto profile = open_profile(ProfileKind::kOrganisation);
  if (!profile) return fail(profile.error());
  if (Status s = org::remove_coordinator(*profile, name); !s) return fail(s.error());
  std::cout << "coordinator " << name
            << " removed; `satchel org publish` signs the new roster and registration\n";
  return kExitOk;
}

int relay_add(const std::string& url, const std::string& pin_hex, const std::string& backup_hex) {
  auto pin = org::parse_pin(pin_hex, "--pin");
  if (!pin) return fail(pin.error());
  auto backup = org::parse_pin(backup_hex, "--backup-pin");
  if (!backup) return fail(backup.error());
  auto profile = open_profile(ProfileKind::kOrganisation);
  if (!profile) return fail(profile.error());
  if (Status s = org::add_relay(*profile, {url, *pin, *backup}); !s) return fail(s.error());
  std::cout << "relay " << url << " added; `satchel org publish` signs the new roster\n";
  return kExitOk;
}

int relay_set_pins(const std::string& url, const std::string& pin_hex,
                   const std::string& backup_hex, bool unrelated) {
  auto pin = org::parse_pin(pin_hex, "--pin");
  if (!pin) return fail(pin.error());
  auto backup = org::parse_pin(backup_hex, "--backup-pin");
  if (!backup) return fail(backup.error());
  auto profile = open_profile(ProfileKind::kOrganisation);
  if (!profile) return fail(profile.error());
  if (Status s = org::set_relay_pins(*profile, {url, *pin, *backup}, unrelated); !s)
    return fail(s.error());
  std::cout << "relay " << url << " has new pins; `satchel org publish` signs the new roster\n";
  return kExitOk;
}

int relay_remove(const std::string& url) {
  auto profile = open_profile(ProfileKind::kOrganisation);
  if (!profile) return fail(profile.error());
  if (Status s = org::remove_relay(*profile, url); !s) return fail(s.error());
  std::cout << "relay " << url << " removed; `satchel org publish` signs the new roster\n";
  return kExitOk;
}

int forms_add(const std::string& path) {
  auto json = read_text_file(path, 4 * 1024 * 1024);
  if (!json) return fail(json.error());
  auto profile = open_profile(ProfileKind::kOrganisation);
  if (!profile) return fail(profile.error());
  auto f = org::add_form(*profile, *json, path, now());
  if (!f) return fail(f.error());
  std::cout << "form " << f->form_id << " version " << f->version << " signed; publication number "
            << f->number << " (" << org::form_file_name(f->number) << ")\n";
  return kExitOk;
}

const char* reason_text(org::RosterReason r) {
  switch (r) {
    case org::RosterReason::kFirst:
      return "new: the first roster";
    case org::RosterReason::kChanged:
      return "new: the roster changed";
    case org::RosterReason::kExpired:
      return "new: the last one had expired";
    case org::RosterReason::kRenewed:
      return "new: renewed";
    case org::RosterReason::kUnchanged:
      break;
  }
  return "unchanged: the last one signed";
}

int publish(const std::string& dir, bool renew) {
  if (Status s = org::check_publication_dir(dir); !s) return fail(s.error());
  auto profile = open_profile(ProfileKind::kOrganisation);
  if (!profile) return fail(profile.error());
  auto pub = org::prepare_publication(*profile, now(), renew);
  if (!pub) return fail(pub.error());
  if (Status s = org::write_publication(*pub, dir); !s) return fail(s.error());
  std::cout << "roster.txt: version " << pub->roster.version << " ("
            << reason_text(pub->roster_reason) << "), expires " << day(pub->roster.expires_at)
            << "\nregistration.txt: version " << pub->registration.version << " ("
            << (pub->registration.signed_now ? "new" : "unchanged") << ")\n";
  for (const auto& f : pub->forms)
    std::cout << "forms/" << org::form_file_name(f.number) << ": " << f.form_id << " version "
              << f.version << "\n";
  std::cout << "written to " << dir << ": a coordinator puts it online with `satchel coord publish "
            << dir << "`";
  if (pub->registration.signed_now)
    std::cout << ", and the relay operator needs the new registration.txt";
  std::cout << "\n";
  return kExitOk;
}

struct InviteBaseArgs {
  std::vector<std::string> forms;
  uint32_t valid_days = 30;
  std::string out;
};

int invite_base(const InviteBaseArgs& a) {
  auto profile = open_profile(ProfileKind::kOrganisation);
  if (!profile) return fail(profile.error());
  org::InviteBaseRequest r;
  r.form_ids = a.forms;
  r.valid_days = a.valid_days;
  r.now = now();
  auto base = org::make_invite_base(*profile, r);
  if (!base) return fail(base.error());
  if (Status s = org::write_invite_base(*base, a.out); !s) return fail(s.error());
  std::cout << "invite base written to " << a.out << ": roster version " << base->roster_version
            << ", " << base->forms.size() << " form(s)";
  for (const auto& f : base->forms) std::cout << ", " << f.form_id << " version " << f.version;
  std::cout << "; expires " << day(base->expires_at) << "\n";
  std::cerr << "warning: " << a.out
            << " is a SECRET (it holds the organisation's publication key and enrollment "
               "secret). Carry it to a coordinator, who imports it with `satchel coord "
               "invite-base import "
            << a.out << "` (which shreds it); make no other copy.\n";
  if (base->roster_expires_at < base->expires_at)
    std::cerr << "note: its roster expires " << day(base->roster_expires_at)
              << ", before the base: invites minted after that are refused. Before then run "
                 "`satchel org publish --renew` and make a new invite base.\n";
  return kExitOk;
}

}  // namespace

void add_org_profile_commands(CLI::App& org, Action& action) {
  auto ia = std::make_shared<OrgInitArgs>();
  auto* init = org.add_subcommand(
      "init", "Create the encrypted organisation profile (on an offline machine)");
  init->add_option("--name", ia->settings.name,
                   "the organisation's name, signed in the roster and shown to joining devices")
      ->required();
  init->add_option("--import-key", ia->import_key,
                   "a `satchel keygen org` file: kept in the profile, then shredded");
  init->add_option("--valid-days", ia->settings.valid_days,
                   "days a signed roster stays valid (default 90)");
  init->add_option("--slots", ia->settings.slots,
                   "bundle slots in the roster (default: one per coordinator)");
  init->add_option("--required-acks", ia->settings.required_acks,
                   "coordinators who must acknowledge a bundle before the relay deletes it "
                   "(default: all)");
  init->add_option("--first-version", ia->settings.first_version,
                   "version of the first roster and registration (default 1; with an imported "
                   "key, one above any already signed with it)");
  init->add_flag("--allow-weak", ia->init.allow_weak,
                 "accept a passphrase zxcvbn rates under 50 bits");
  init->add_option("--kdf-passes", ia->init.kdf_passes, "Argon2id passes (default: calibrated)");
  init->add_option("--kdf-memory", ia->init.kdf_memory_mib,
                   "Argon2id memory in MiB (default: calibrated)");
  init->callback([&action, ia] { action = [ia] { return org_init(*ia); }; });

  auto sa = std::make_shared<SetArgs>();
  auto* set = org.add_subcommand("set", "Change the name or the roster settings");
  sa->name_opt = set->add_option("--name", sa->name, "the organisation's name");
  sa->days_opt =
      set->add_option("--valid-days", sa->valid_days, "days a signed roster stays valid");
  sa->slots_opt =
      set->add_option("--slots", sa->slots, "bundle slots in the roster (0: one per coordinator)");
  sa->acks_opt = set->add_option("--required-acks", sa->required_acks,
                                 "acknowledgements before the relay deletes a bundle (0: all)");
  set->callback([&action, sa] { action = [sa] { return org_set(*sa); }; });

  auto* show = org.add_subcommand(
      "show", "The organisation's name, fingerprint, coordinators, relays, forms and versions");
  show->callback([&action] { action = [] { return org_show(); }; });

  auto* coord = org.add_subcommand("coordinator", "The roster's coordinators");
  coord->require_subcommand(1);
  auto cname = std::make_shared<std::string>();
  auto ckey = std::make_shared<std::string>();
  auto cconfirm = std::make_shared<std::string>();
  auto* cadd = coord->add_subcommand(
      "add", "Add a coordinator after comparing its full fingerprint with it in person");
  cadd->add_option("NAME", *cname, "the coordinator's name in the roster")->required();
  cadd->add_option("COORDPUB", *ckey, "its public key (coordpub-…)")->required();
  cadd->add_option("--confirm", *cconfirm,
                   "its full fingerprint, as the coordinator reads it (satchel coord whoami)")
      ->required();
  cadd->callback([&action, cname, ckey, cconfirm] {
    action = [cname, ckey, cconfirm] { return coordinator_add(*cname, *ckey, *cconfirm); };
  });
  auto* cremove = coord->add_subcommand("remove", "Remove a coordinator from the roster");
  cremove->add_option("NAME", *cname, "the coordinator's name")->required();
  cremove->callback([&action, cname] { action = [cname] { return coordinator_remove(*cname); }; });

  auto* relay = org.add_subcommand("relay", "The roster's relays");
  relay->require_subcommand(1);
  auto url = std::make_shared<std::string>();
  auto pin = std::make_shared<std::string>();
  auto backup = std::make_shared<std::string>();
  auto* radd =
      relay->add_subcommand("add", "Add a relay with its pins (satchel-relay init prints them)");
  radd->add_option("URL", *url, "https://…")->required();
  radd->add_option("--pin", *pin, "the relay certificate's SPKI SHA-256, hex")->required();
  radd->add_option("--backup-pin", *backup, "the backup key's SPKI SHA-256, hex")->required();
  radd->callback([&action, url, pin, backup] {
    action = [url, pin, backup] { return relay_add(*url, *pin, *backup); };
  });
  auto unrelated = std::make_shared<bool>(false);
  auto* rpins = relay->add_subcommand(
      "set-pins",
      "Give a relay new pins in its place (after `satchel-relay tls rotate`: --pin is the old "
      "backup pin)");
  rpins->add_option("URL", *url, "the relay's URL")->required();
  rpins->add_option("--pin", *pin, "the pin the relay serves now, hex")->required();
  rpins->add_option("--backup-pin", *backup, "its new backup key's pin, hex")->required();
  rpins->add_flag("--unrelated", *unrelated,
                  "allow a --pin that is neither pin held (both keys lost: devices holding the "
                  "current roster lose this relay until they get the new one)");
  rpins->callback([&action, url, pin, backup, unrelated] {
    action = [url, pin, backup, unrelated] {
      return relay_set_pins(*url, *pin, *backup, *unrelated);
    };
  });
  auto* rremove = relay->add_subcommand("remove", "Remove a relay from the roster");
  rremove->add_option("URL", *url, "the relay's URL")->required();
  rremove->callback([&action, url] { action = [url] { return relay_remove(*url); }; });

  auto* forms = org.add_subcommand("forms", "The organisation's forms");
  forms->require_subcommand(1);
  auto form_file = std::make_shared<std::string>();
  auto* fadd = forms->add_subcommand(
      "add",
      "Check and sign FORM.json (its \"id\" and \"version\"); a newer version of a form "
      "held must have a greater version");
  fadd->add_option("FORM", *form_file, "form JSON file (schema/form-format.md)")->required();
  fadd->callback([&action, form_file] { action = [form_file] { return forms_add(*form_file); }; });

  auto dir = std::make_shared<std::string>();
  auto renew = std::make_shared<bool>(false);
  auto* pub = org.add_subcommand(
      "publish",
      "Write the signed roster, relay registration and form packages to DIR for a "
      "coordinator to put online (new versions only where something changed)");
  pub->add_option("-o,--output", *dir, "a new or empty folder")->required();
  pub->add_flag("--renew", *renew, "sign a new roster version even if nothing changed");
  pub->callback([&action, dir, renew] { action = [dir, renew] { return publish(*dir, *renew); }; });

  auto ba = std::make_shared<InviteBaseArgs>();
  auto* base = org.add_subcommand(
      "invite-base", "Sign an invite base (a SECRET) for a coordinator to mint invites from");
  base->add_option("--forms", ba->forms, "form ids devices joining with it fetch")->required();
  base->add_option("--valid-days", ba->valid_days, "days until it expires")->required();
  base->add_option("-o,--output", ba->out, "the file to create (mode 0600, never overwritten)")
      ->required();
  base->callback([&action, ba] { action = [ba] { return invite_base(*ba); }; });
}

}  // namespace satchel::cli
