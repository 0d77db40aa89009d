// `satchel coord backup --to BACKUPPUB… -o FILE` and `satchel coord restore FILE --key-file KEY`
// (schema/coordinator-backup.md).
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli_coord.h"
#include "cli/cli_session.h"
#include "satchel/coord/backup.h"

namespace satchel::cli {
namespace {

std::string counts_text(const coord::BackupCounts& c) {
  return std::to_string(c.records) + " record(s), " + std::to_string(c.quarantine) +
         " in quarantine, " + std::to_string(c.bodies) + " bod" + (c.bodies == 1 ? "y" : "ies") +
         " (" + std::to_string(c.body_bytes) + " bytes), " + std::to_string(c.devices) +
         " device(s), " + std::to_string(c.bundles) + " bundle(s) seen, " +
         std::to_string(c.forms) + " form(s), " + std::to_string(c.retractions) +
         " retraction(s) waiting, " + std::to_string(c.exports) + " export(s) logged";
}

int backup(const std::vector<std::string>& to_text, const std::string& out) {
  std::vector<BackupPublicKey> to;
  for (size_t i = 0; i < to_text.size(); i++) {
    auto k = BackupPublicKey::from_text(to_text[i]);
    if (!k) return fail("--to #" + std::to_string(i + 1), k.error());
    to.push_back(*k);
  }
  // The name is checked before the passphrase is asked for; the file appears only complete.
  auto sink = StagedFileSink::create(out);
  if (!sink) return fail(sink.error());
  auto profile = open_profile(client::ProfileKind::kCoordinator);
  if (!profile) return fail(profile.error());
  auto s = coord::write_backup(*profile, to, *sink, static_cast<int64_t>(std::time(nullptr)));
  if (!s) return fail(s.error());
  if (Status c = sink->commit(); !c) return fail(c.error());
  std::cout << "backup written to " << out << " (" << s->size << " bytes)\n";
  for (const auto& k : to) std::cout << "sealed to backup key " << k.fingerprint() << "\n";
  std::cout << "coordinator fingerprint: " << s->coordinator.fingerprint() << "\n"
            << counts_text(s->counts) << "\n";
  std::cerr << "The holder of the backup secret key can read every record in this file and act "
               "as this coordinator: keep that key offline.\n";
  return kExitOk;
}

struct RestoreArgs {
  std::string file, key_file, expect;
  InitArgs init;
};

int restore(const RestoreArgs& a) {
  auto text = read_secret_key_file(a.key_file);
  if (!text) return fail(a.key_file, text.error());
  auto key = BackupSecretKey::from_text(text->span());
  if (!key) return fail(a.key_file, key.error());
  coord::RestoreOptions o;
  o.home = profile_home(client::ProfileKind::kCoordinator);
  if (!a.expect.empty()) {
    auto e = CoordinatorPublicKey::from_text(a.expect);
    if (!e) return fail("--expect-coordinator", e.error());
    o.expect = *e;
  }
  auto src = FileSource::open(a.file);
  if (!src) return fail(src.error());
  // Verified (every byte the sender's) before a passphrase is asked for or a file created.
  auto backup = coord::VerifiedBackup::verify(*src, *key);
  if (!backup) return fail(a.file, backup.error());
  if (Status s = coord::check_restore_target(o.home); !s) return fail(s.error());
  if (o.expect)
    if (Status s = backup->check_sender(*o.expect); !s) return fail(a.file, s.error());
  std::cout << "backup made " << format_utc(backup->created_at(), "%Y-%m-%d %H:%M UTC")
            << " (as the backup says), " << backup->plaintext_bytes() << " bytes of store\n";
  if (auto w = swap_warning()) std::cerr << *w << "\n";
  auto pass = new_passphrase(a.init.allow_weak);
  if (!pass) return fail(pass.error());
  o.params = argon2_params(a.init);
  auto s = backup->restore_to(*pass, o);
  if (!s) return fail(a.file, s.error());
  std::cout << "coordinator profile restored in " << o.home
            << "\ncoordinator key: " << s->coordinator.to_text()
            << "\ncoordinator fingerprint: " << s->coordinator.fingerprint() << "\n"
            << counts_text(s->counts) << "\n";
  if (!o.expect)
    std::cerr << "Compare the fingerprint with the one you noted for this coordinator: anyone "
                 "who knows the backup public key can seal a backup of another coordinator "
                 "(--expect-coordinator COORDPUB checks it).\n";
  return kExitOk;
}

}  // namespace

void add_coord_backup_commands(CLI::App& coord, Action& action) {
  auto to = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto* b = coord.add_subcommand(
      "backup", "Seal the whole coordinator store to backup keys kept offline (no plaintext file)");
  b->add_option("--to", *to, "backup public key (backuppub-…; satchel keygen backup); repeatable")
      ->required();
  b->add_option("-o,--output", *out, "the backup file to create (never overwritten)")->required();
  b->callback([&action, to, out] { action = [to, out] { return backup(*to, *out); }; });

  auto ra = std::make_shared<RestoreArgs>();
  auto* r = coord.add_subcommand(
      "restore", "Rebuild a coordinator profile (new, at --home) from a backup file");
  r->add_option("FILE", ra->file, "backup file written by `satchel coord backup`")->required();
  r->add_option("--key-file", ra->key_file, "the backup secret key file (backupsec-…)")->required();
  r->add_option("--expect-coordinator", ra->expect,
                "refuse a backup of any other coordinator (coordpub-…)");
  r->add_flag("--allow-weak", ra->init.allow_weak,
              "accept a passphrase zxcvbn rates under 50 bits");
  r->add_option("--kdf-passes", ra->init.kdf_passes, "Argon2id passes (default: calibrated)");
  r->add_option("--kdf-memory", ra->init.kdf_memory_mib,
                "Argon2id memory in MiB (default: calibrated)");
  r->callback([&action, ra] { action = [ra] { return restore(*ra); }; });
}

}  // namespace satchel::cli
