// `satchel coord init | whoami | trust org | roster add | form add | import | devices | device
// add | device lost | quarantine`, and `satchel whoami`; `coord invite-base` is in
// cli_invite_base.cpp.
#include "cli/cli_coord.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <iostream>

#include <unistd.h>

#include "cli/cli_session.h"
#include "cli/cli_trust.h"
#include "satchel/client/profile.h"
#include "satchel/coord/importer.h"
#include "satchel/coord/pull.h"
#include "satchel/coord/record_export.h"
#include "satchel/coord/registry.h"

namespace satchel::cli {
namespace {

namespace fs = std::filesystem;
using client::ProfileKind;

int64_t today() {
  return coord::day_of(static_cast<int64_t>(std::time(nullptr)));
}

std::string day_text(int64_t day) {
  return format_utc(day * 86400, "%Y-%m-%d");
}

int coord_init(const InitArgs& args, const std::string& import_key) {
  client::ProfileContents contents;
  contents.kind = ProfileKind::kCoordinator;
  if (!import_key.empty()) {
    auto text = read_secret_key_file(import_key);
    if (!text) return fail(import_key, text.error());
    auto key = CoordinatorSecretKey::from_text(text->span());
    if (!key) return fail(import_key, key.error());
    contents.coordinator_key = std::move(key.value());
  }
  const int rc = init_profile(args, std::move(contents));
  if (rc != kExitOk || import_key.empty()) return rc;
  // The key now lives only inside the encrypted profile.
  if (Status s = client::shred_file(import_key); !s)
    return fail("the profile holds the key, but " + import_key +
                " could not be shredded: remove it yourself (" + s.error().message + ")");
  std::cout << import_key << " overwritten and removed\n";
  return kExitOk;
}

int whoami(ProfileKind kind) {
  auto profile = open_profile(kind);
  if (!profile) return fail(profile.error());
  if (kind == ProfileKind::kCoordinator) {
    auto key = profile->coordinator_key();
    if (!key) return fail(key.error());
    std::cout << "coordinator key: " << key->public_key().to_text()
              << "\nfingerprint: " << key->public_key().fingerprint() << "\n";
  } else {
    auto key = profile->device_key();
    if (!key) return fail(key.error());
    std::cout << "device key: " << key->public_key().to_text()
              << "\nfingerprint: " << key->public_key().fingerprint() << "\n";
  }
  return kExitOk;
}

int import_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return fail(dir + " is not a directory");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file()) files.push_back(e.path());
  if (ec) return fail("cannot list " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  auto profile = open_profile(ProfileKind::kCoordinator);
  if (!profile) return fail(profile.error());
  auto importer = coord::Importer::open(*profile);
  if (!importer) return fail(importer.error());
  auto waited = coord::import_all_waiting_records(*profile);
  if (!waited) return fail(waited.error());
  if (*waited) std::cout << *waited << " record(s) that waited for their form imported\n";
  size_t counts[6] = {0, 0, 0, 0, 0, 0};
  size_t unreadable = 0;
  const int64_t day = today();
  // Files are imported in batches of one transaction each (Importer::begin_batch): a batch's
  // lines are printed once it is committed, so nothing is reported imported that is not.
  constexpr size_t kBatchFiles = 500;
  for (size_t first = 0; first < files.size(); first += kBatchFiles) {
    const size_t end = std::min(files.size(), first + kBatchFiles);
    if (Status s = importer->begin_batch(); !s) return fail(s.error());
    std::vector<std::string> lines;
    size_t batch_counts[6] = {0, 0, 0, 0, 0, 0};
    for (size_t i = first; i < end; i++) {
      const std::string name = files[i].filename().string();
      auto src = FileSource::open(files[i].string());
      auto r = src ? importer->import(*src, day) : Result<coord::ImportOutcome>(src.error());
      if (!r) {
        std::cerr << "satchel: " << name << ": " << r.error().message << "\n";
        unreadable++;
        continue;
      }
      batch_counts[static_cast<int>(r->result)]++;
      std::string line = name + ": " + coord::import_result_name(r->result);
      if (!r->detail.empty()) line += " (" + r->detail + ")";
      lines.push_back(std::move(line));
    }
    if (Status s = importer->commit_batch(); !s)
      return fail("nothing of " + files[first].filename().string() + " … " +
                      files[end - 1].filename().string() + " was imported (" +
                      std::to_string(first) + " file(s) before them were)",
                  s.error());
    for (const auto& line : lines) std::cout << line << "\n";
    for (int k = 0; k < 6; k++) counts[k] += batch_counts[k];
  }
  std::cout << files.size() << " file(s): " << counts[0] << " imported, " << counts[1]
            << " duplicate, " << counts[2] << " cover, " << counts[3] << " quarantined";
  if (counts[4]) std::cout << ", " << counts[4] << " retraction(s)";
  if (counts[5]) std::cout << ", " << counts[5] << " device hello(s) filed";
  if (unreadable) std::cout << ", " << unreadable << " not read";
  std::cout << "\n";
  return unreadable ? kExitFailed : kExitOk;
}

// How a registered device was registered, for `coord devices`.
std::string registration_text(const coord::DeviceReport& d) {
  switch (d.registration) {
    case coord::Registration::kInPerson:
      return "registered in person";
    case coord::Registration::kInvite:
      if (d.invite)
        return "joined by invite " +
               to_hex(ByteView(d.invite->invite_id.data(), d.invite->invite_id.size()))
                   .substr(0, 8) +
               ", minted by " + d.invite->minter_name + ", " + day_text(d.invite->minted_day);
      return "joined by invite";
    case coord::Registration::kUnrecorded:
      break;
  }
  return "registered; how is not recorded (a profile restored from a backup)";
}

int devices() {
  auto profile = open_profile(ProfileKind::kCoordinator);
  if (!profile) return fail(profile.error());
  auto list = coord::device_reports(*profile);
  if (!list) return fail(list.error());
  if (list->empty()) std::cout << "no devices yet\n";
  for (const auto& d : *list) {
    std::cout << (d.label ? *d.label : "UNVERIFIED (not registered)") << "\n  key "
              << d.key.to_text() << "\n  fingerprint " << d.key.fingerprint() << "\n  seen "
              << day_text(d.first_day) << " to " << day_text(d.last_day) << ", " << d.bundles
              << " bundle(s)";
    if (d.bundles) std::cout << ", sequences " << d.lowest << "-" << d.highest;
    std::cout << "\n";
    if (d.label) std::cout << "  " << registration_text(d) << "\n";
    for (const auto& g : d.gaps)
      std::cout << "  " << g.first << (g.first == g.last ? "" : "-" + std::to_string(g.last))
                << " not received\n";
    if (d.lost_after) std::cout << "  reported lost after sequence " << *d.lost_after << "\n";
    if (d.invite_disputed)
      std::cout << "  DISPUTED: another device presented the same invite; check this device's "
                   "fingerprint in person before registering it (coord device add)\n";
  }
  auto rule = profile->setting(coord::kRelayAckRuleSetting);
  if (!rule) return fail(rule.error());
  if (*rule && !(*rule)->empty() && !list->empty())
    std::cout << "note: the relay deletes a bundle once " << **rule
              << " coordinators acknowledged it (seen at the last pull that found it so): "
                 "a bundle another coordinator pulled first never reaches this profile, and "
                 "shows here as a gap\n";
  return kExitOk;
}

int device_add(const std::string& key_text, const std::string& label, const std::string& confirm) {
  auto key = DevicePublicKey::from_text(key_text);
  if (!key) return fail("DEVPUB", key.error());
  if (digits_only(confirm) != digits_only(key->fingerprint()))
    return fail(
        "fingerprint does not match: the device was NOT registered. Compare it with the "
        "one the device shows (satchel whoami) in person.");
  auto profile = open_profile(ProfileKind::kCoordinator);
  if (!profile) return fail(profile.error());
  if (Status s = coord::register_device(*profile, *key, label, today()); !s) return fail(s.error());
  std::cout << "device registered as " << label << ": its records are verified\n";
  return kExitOk;
}

int device_lost(const std::string& key_text, uint64_t after) {
  auto key = DevicePublicKey::from_text(key_text);
  if (!key) return fail("DEVPUB", key.error());
  auto profile = open_profile(ProfileKind::kCoordinator);
  if (!profile) return fail(profile.error());
  auto later = coord::mark_device_lost(*profile, *key, after, today());
  if (!later) return fail(later.error());
  std::cout << "every bundle of this device imported from now on will be quarantined\n";
  if (*later)
    std::cout << "warning: " << *later << " record(s) already imported from it have a sequence "
              << "above " << after << ": review them (coord export --include-unverified shows "
              << "the device pseudonym)\n";
  return kExitOk;
}

int quarantine() {
  auto profile = open_profile(ProfileKind::kCoordinator);
  if (!profile) return fail(profile.error());
  auto list = coord::quarantine_entries(*profile);
  if (!list) return fail(list.error());
  if (list->empty()) std::cout << "quarantine is empty\n";
  for (const auto& q : *list) {
    std::cout << "#" << q.id << "  " << day_text(q.received_day) << "  "
              << (q.sender ? q.sender->fingerprint() : std::string("sender unknown")) << "\n  "
              << q.reason << "\n";
  }
  return kExitOk;
}

int pull(size_t relay_index, const std::string& proxy) {
  auto profile = open_profile(ProfileKind::kCoordinator);
  if (!profile) return fail(profile.error());
  coord::PullOptions o;
  o.relay_index = relay_index;
  o.now = static_cast<int64_t>(std::time(nullptr));
  if (!proxy.empty()) {
    auto p = client::parse_proxy_address(proxy);
    if (!p) return fail(p.error());
    o.relay.proxy = *p;
  }
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  if (tty)
    o.progress = [](uint64_t done, uint64_t listed) {
      std::cerr << "\rpulled " << done << " of " << listed << " listed" << std::flush;
    };
  auto s = coord::pull(*profile, o);
  if (tty) std::cerr << "\n";
  if (!s) return fail(s.error());
  std::cout << s->imported << " imported, " << s->duplicate << " duplicate, " << s->cover
            << " cover, " << s->quarantined << " quarantined, " << s->retractions
            << " retraction(s); ";
  if (s->joined) std::cout << s->joined << " device hello(s) filed; ";
  std::cout << s->acknowledged << " acknowledged; " << s->not_mine
            << " not sealed for this coordinator (kept in quarantine, declared not mine); "
            << s->bytes_downloaded << " bytes downloaded\n";
  return kExitOk;
}

struct ExportArgs {
  std::string form, format = "csv", out, lang;
  uint64_t version = 0;
  bool identifying = false, unverified = false, retracted = false, attachments = false;
};

int export_records(const ExportArgs& a) {
  coord::ExportOptions o;
  o.form_id = a.form;
  if (a.version) o.version = a.version;
  if (a.format == "csv")
    o.format = coord::ExportFormat::kCsv;
  else if (a.format == "jsonl")
    o.format = coord::ExportFormat::kJsonLines;
  else
    return fail("--format must be csv or jsonl, not '" + a.format + "'");
  o.out_dir = a.out;
  o.lang = a.lang;
  o.include_identifying = a.identifying;
  o.include_unverified = a.unverified;
  o.include_retracted = a.retracted;
  o.attachments = a.attachments;
  o.now = static_cast<int64_t>(std::time(nullptr));
  auto profile = open_profile(ProfileKind::kCoordinator);
  if (!profile) return fail(profile.error());
  auto summary = coord::export_records(*profile, o);
  if (!summary) return fail(summary.error());
  for (const auto& f : summary->files) std::cout << f << "\n";
  std::cout << summary->records << " record(s) exported";
  if (summary->left_out_unverified)
    std::cout << "; " << summary->left_out_unverified
              << " from unregistered devices left out (--include-unverified)";
  if (summary->left_out_retracted)
    std::cout << "; " << summary->left_out_retracted << " retracted left out (--include-retracted)";
  std::cout << "\n";
  std::cerr << "warning: these files are PLAINTEXT, outside the encrypted profile"
            << (a.identifying ? ", and include identifying answers" : "")
            << ". Keep them on an encrypted disk and delete them when done.\n";
  return kExitOk;
}

}  // namespace

void add_whoami_command(CLI::App& app, Action& action) {
  auto* w = app.add_subcommand("whoami", "Show this device's public key and fingerprint");
  w->callback([&action] { action = [] { return whoami(ProfileKind::kField); }; });
}

void add_coord_commands(CLI::App& app, Action& action) {
  auto* coord = app.add_subcommand(
      "coord", "Coordinator commands (profile default: $XDG_DATA_HOME/notebook)");
  coord->require_subcommand(1);

  auto ia = std::make_shared<InitArgs>();
  auto import_key = std::make_shared<std::string>();
  auto* init = coord->add_subcommand("init", "Create an encrypted coordinator profile");
  init->add_option("--import-key", *import_key,
                   "a `satchel keygen coordinator` file: kept in the profile, then shredded");
  init->add_flag("--allow-weak", ia->allow_weak, "accept a passphrase zxcvbn rates under 50 bits");
  init->add_option("--kdf-passes", ia->kdf_passes, "Argon2id passes (default: calibrated)");
  init->add_option("--kdf-memory", ia->kdf_memory_mib,
                   "Argon2id memory in MiB (default: calibrated)");
  init->callback([&action, ia, import_key] {
    action = [ia, import_key] { return coord_init(*ia, *import_key); };
  });

  auto* who = coord->add_subcommand("whoami", "Show the coordinator key and its fingerprint");
  who->callback([&action] { action = [] { return whoami(ProfileKind::kCoordinator); }; });

  auto* trust = coord->add_subcommand("trust", "Trust the organisation's signing key");
  trust->require_subcommand(1);
  auto org_key = std::make_shared<std::string>();
  auto confirm = std::make_shared<std::string>();
  auto* org = trust->add_subcommand("org", "Trust the organisation key PUBKEY (orgpub-…)");
  org->add_option("PUBKEY", *org_key, "organisation public key")->required();
  org->add_option("--confirm", *confirm, "the fingerprint, for scripts");
  org->callback([&action, org_key, confirm] {
    action = [org_key, confirm] {
      return trust_org(*org_key, *confirm, ProfileKind::kCoordinator);
    };
  });

  auto* roster = coord->add_subcommand("roster", "The organisation's roster");
  roster->require_subcommand(1);
  auto roster_file = std::make_shared<std::string>();
  auto* radd = roster->add_subcommand("add", "Accept a signed roster (newer and unexpired only)");
  radd->add_option("ROSTER", *roster_file, "roster file")->required();
  radd->callback([&action, roster_file] {
    action = [roster_file] { return roster_add(*roster_file, ProfileKind::kCoordinator); };
  });

  auto* form = coord->add_subcommand("form", "Forms signed by the organisation");
  form->require_subcommand(1);
  auto form_file = std::make_shared<std::string>();
  auto* fadd = form->add_subcommand("add", "Verify and add a signed form (FORM.signed)");
  fadd->add_option("FILE", *form_file, "signed form file")->required();
  fadd->callback([&action, form_file] {
    action = [form_file] { return form_add(*form_file, ProfileKind::kCoordinator); };
  });

  auto relay_index = std::make_shared<size_t>(0);
  auto proxy = std::make_shared<std::string>();
  auto* pl = coord->add_subcommand(
      "pull",
      "Download, verify and import every bundle waiting on the roster's relay, then "
      "acknowledge each one imported");
  pl->add_option("--relay", *relay_index, "which relay of the roster (default 0)");
  pl->add_option("--proxy", *proxy, "HOST:PORT of an HTTP CONNECT proxy (Tor's HTTPTunnelPort)");
  pl->callback([&action, relay_index, proxy] {
    action = [relay_index, proxy] { return pull(*relay_index, *proxy); };
  });

  auto dir = std::make_shared<std::string>();
  auto* imp = coord->add_subcommand(
      "import", "Verify and import the bundles in DIR (exported by devices); idempotent");
  imp->add_option("DIR", *dir, "folder of bundle files")->required();
  imp->callback([&action, dir] { action = [dir] { return import_dir(*dir); }; });

  auto* devs = coord->add_subcommand("devices", "Devices seen, registered, and their gaps");
  devs->callback([&action] { action = [] { return devices(); }; });

  auto* device = coord->add_subcommand("device", "Register a device, or report it lost");
  device->require_subcommand(1);
  auto dev_key = std::make_shared<std::string>();
  auto label = std::make_shared<std::string>();
  auto dev_confirm = std::make_shared<std::string>();
  auto* dadd =
      device->add_subcommand("add", "Register DEVPUB after comparing its fingerprint in person");
  dadd->add_option("DEVPUB", *dev_key, "device public key (devpub-…)")->required();
  dadd->add_option("--label", *label, "a name for it, kept in this profile only")->required();
  dadd->add_option("--confirm", *dev_confirm, "the fingerprint the device shows")->required();
  dadd->callback([&action, dev_key, label, dev_confirm] {
    action = [dev_key, label, dev_confirm] { return device_add(*dev_key, *label, *dev_confirm); };
  });
  auto after = std::make_shared<uint64_t>(0);
  auto* dlost = device->add_subcommand(
      "lost", "Quarantine DEVPUB's bundles above a sequence number (a lost or seized device)");
  dlost->add_option("DEVPUB", *dev_key, "device public key (devpub-…)")->required();
  dlost->add_option("--after-sequence", *after, "the last sequence still trusted")->required();
  dlost->callback([&action, dev_key, after] {
    action = [dev_key, after] { return device_lost(*dev_key, *after); };
  });

  auto ea = std::make_shared<ExportArgs>();
  auto* exp = coord->add_subcommand(
      "export", "Write a form's records as CSV or JSON Lines (plaintext files, mode 0600)");
  exp->add_option("--form", ea->form, "form id")->required();
  exp->add_option("--version", ea->version, "form version (default: every version held)");
  exp->add_option("--format", ea->format, "csv (default) or jsonl");
  exp->add_option("-o,--output", ea->out, "an existing folder")->required();
  exp->add_option("--lang", ea->lang, "language of choice labels (default: the form's)");
  exp->add_flag("--include-identifying", ea->identifying,
                "include answers the form flags identifying, attachment names, device labels");
  exp->add_flag("--include-unverified", ea->unverified,
                "include records from devices not registered (coord device add)");
  exp->add_flag("--include-retracted", ea->retracted, "include retracted records");
  exp->add_flag("--attachments", ea->attachments,
                "extract attachments to OUTPUT/attachments/RECORD-ATTACHMENT");
  exp->callback([&action, ea] { action = [ea] { return export_records(*ea); }; });

  auto* q = coord->add_subcommand("quarantine", "What could not be imported, and why");
  q->callback([&action] { action = [] { return quarantine(); }; });

  add_coord_backup_commands(*coord, action);
  add_coord_invite_base_commands(*coord, action);
  add_coord_invite_commands(*coord, action);
}

}  // namespace satchel::cli
