// `satchel init | passphrase | rekey`, and opening the profile for every other command.
#include <fstream>
#include <iostream>

#include "cli/cli.h"
#include "cli/cli_session.h"
#include "satchel/client/passphrase.h"
#include "satchel/client/profile.h"

namespace satchel::cli {

ProfileOptions& profile_options() {
  static ProfileOptions o;
  return o;
}

void add_profile_options(CLI::App& app) {
  auto& o = profile_options();
  app.add_option("--home", o.home,
                 "profile directory (default: $SATCHEL_HOME, else $XDG_DATA_HOME/fieldnotes)")
      ->envname("SATCHEL_HOME");
  app.add_option("--passphrase-fd", o.passphrase_fd,
                 "read passphrases from this descriptor, one per line (or SATCHEL_PASSPHRASE_FD)");
}

std::string profile_home(client::ProfileKind kind) {
  const auto& o = profile_options();
  if (!o.home.empty()) return o.home;
  switch (kind) {
    case client::ProfileKind::kCoordinator:
      return client::default_coordinator_home();
    case client::ProfileKind::kOrganisation:
      return client::default_organisation_home();
    case client::ProfileKind::kField:
      break;
  }
  return client::default_profile_home();
}

Result<client::Profile> open_profile(client::ProfileKind kind) {
  auto src = client::PassphraseSource::resolve(profile_options().passphrase_fd);
  if (!src) return src.error();
  auto pass = client::read_passphrase(*src, "Passphrase: ");
  if (!pass) return pass.error();
  auto profile = client::Profile::open(profile_home(kind), *pass);
  if (!profile) return profile.error();
  SATCHEL_TRY(profile->require_kind(kind));
  return profile;
}

std::optional<std::string> swap_warning() {
  std::ifstream swaps("/proc/swaps");
  std::string line;
  std::getline(swaps, line);  // header
  while (std::getline(swaps, line)) {
    std::string dev = line.substr(0, line.find_first_of(" \t"));
    if (dev.rfind("/dev/dm-", 0) == 0 || dev.rfind("/dev/mapper/", 0) == 0 ||
        dev.rfind("/dev/zram", 0) == 0)
      continue;
    return "warning: swap on " + dev +
           " may not be encrypted: memory pages holding testimony could be written to disk. "
           "Encrypt swap or turn it off.";
  }
  return std::nullopt;
}

Result<SecretBytes> new_passphrase(bool allow_weak) {
  auto src = client::PassphraseSource::resolve(profile_options().passphrase_fd);
  if (!src) return src.error();
  SecretBytes suggested = client::generate_diceware(7);
  if (!src->fd) {
    std::string offer = "Suggested passphrase (7 random words, about 90 bits): ";
    offer.append(reinterpret_cast<const char*>(suggested.data()), suggested.size());
    offer +=
        "\nWrite it down somewhere safe, or type your own. Press Enter to use the suggestion.\n";
    client::write_to_terminal(offer);
    wipe(offer.data(), offer.size());
  }
  auto first = client::read_passphrase(*src, "New passphrase: ");
  if (!first) return first.error();
  if (first->empty() && !src->fd) first = suggested.clone();
  if (first->empty()) return make_error(Errc::kInvalidArgument, "empty passphrase");
  if (!src->fd) {
    auto again = client::read_passphrase(*src, "Repeat passphrase: ");
    if (!again) return again.error();
    if (again->empty()) again = suggested.clone();
    if (!again->equals(first->span()))
      return make_error(Errc::kInvalidArgument, "the passphrases differ");
  }
  if (!allow_weak) SATCHEL_TRY(client::check_passphrase_strength(*first));
  return std::move(first.value());
}

client::Argon2Params argon2_params(const InitArgs& a) {
  client::Argon2Params params;
  if (a.kdf_passes || a.kdf_memory_mib) {
    params.passes = std::max(a.kdf_passes, client::kArgon2Floor.passes);
    params.memory_kib = std::max(a.kdf_memory_mib * 1024, client::kArgon2Floor.memory_kib);
  } else {
    std::cerr << "Calibrating Argon2id on this machine...\n";
    params = client::calibrate_argon2(0.5);
  }
  return params;
}

int init_profile(const InitArgs& a, client::ProfileContents contents) {
  const client::ProfileKind kind = contents.kind;
  if (auto w = swap_warning()) std::cerr << *w << "\n";
  auto pass = new_passphrase(a.allow_weak);
  if (!pass) return fail(pass.error());
  const client::Argon2Params params = argon2_params(a);
  auto info = client::Profile::create(profile_home(kind), *pass, params, std::move(contents));
  if (!info) return fail(info.error());
  std::cout << client::profile_kind_name(kind) << " profile created in " << profile_home(kind)
            << "\nArgon2id: " << params.passes << " passes, " << params.memory_kib / 1024
            << " MiB, 1 lane\n";
  if (info->device)
    std::cout << "device key: " << info->device->to_text()
              << "\ndevice fingerprint: " << info->device->fingerprint() << "\n";
  if (info->coordinator)
    std::cout << "coordinator key: " << info->coordinator->to_text()
              << "\ncoordinator fingerprint: " << info->coordinator->fingerprint() << "\n";
  return kExitOk;
}

namespace {

int change_passphrase(bool allow_weak) {
  auto profile = open_profile();
  if (!profile) return fail(profile.error());
  auto pass = new_passphrase(allow_weak);
  if (!pass) return fail(pass.error());
  Status s = profile->change_passphrase(*pass);
  if (!s) return fail(s.error());
  std::cout << "passphrase changed\n";
  return kExitOk;
}

int rekey() {
  auto src = client::PassphraseSource::resolve(profile_options().passphrase_fd);
  if (!src) return fail(src.error());
  auto pass = client::read_passphrase(*src, "Passphrase: ");
  if (!pass) return fail(pass.error());
  auto profile = client::Profile::open(profile_home(), *pass);
  if (!profile) return fail(profile.error());
  Status s = profile->rekey(*pass);
  if (!s) return fail(s.error());
  std::cout << "database key rotated; the old database file was overwritten and removed\n";
  return kExitOk;
}

}  // namespace

void add_profile_commands(CLI::App& app, Action& action) {
  auto ia = std::make_shared<InitArgs>();
  auto* init_cmd = app.add_subcommand("init", "Create an encrypted profile on this device");
  init_cmd->add_flag("--allow-weak", ia->allow_weak,
                     "accept a passphrase zxcvbn rates under 50 bits");
  init_cmd->add_option("--kdf-passes", ia->kdf_passes,
                       "Argon2id passes (default: calibrated; at least 2)");
  init_cmd->add_option("--kdf-memory", ia->kdf_memory_mib,
                       "Argon2id memory in MiB (default: calibrated; at least 64)");
  init_cmd->callback([&action, ia] { action = [ia] { return init_profile(*ia, {}); }; });

  auto weak = std::make_shared<bool>(false);
  auto* pp = app.add_subcommand(
      "passphrase", "Change the profile passphrase (instant: the data is not re-encrypted)");
  pp->add_flag("--allow-weak", *weak, "accept a passphrase zxcvbn rates under 50 bits");
  pp->callback([&action, weak] { action = [weak] { return change_passphrase(*weak); }; });

  auto* rk = app.add_subcommand("rekey", "Re-encrypt the whole database under a new random key");
  rk->callback([&action] { action = [] { return rekey(); }; });
}

}  // namespace satchel::cli
