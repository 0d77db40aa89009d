// `satchel coord invite-base import FILE`: the organisation's signed invite base, verified and
// kept inside the encrypted coordinator profile; FILE is shredded.
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "cli/cli_coord.h"
#include "cli/cli_session.h"
#include "satchel/coord/invite_book.h"

namespace satchel::cli {
namespace {

int invite_base_import(const std::string& path) {
  // Checked before the passphrase is asked for (import_invite_base_file reads it again).
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return fail(path + " is not a file (the invite base file, invite-base-…)");
  auto profile = open_profile(client::ProfileKind::kCoordinator);
  if (!profile) return fail(profile.error());
  auto imported =
      coord::import_invite_base_file(*profile, path, static_cast<int64_t>(std::time(nullptr)));
  if (!imported) return fail(path, imported.error());
  const InviteBase& base = imported->base.base();
  const Roster& roster = imported->base.roster();
  if (imported->already_held)
    std::cout << "this invite base is held already: nothing changed\n";
  else
    std::cout << "invite base imported"
              << (imported->replaced ? " (the older one is replaced)" : "") << "\n";
  std::cout << "organisation: " << roster.org_name << " (roster version " << roster.version << ", "
            << roster.coordinators.size() << " coordinator(s), " << roster.relays.size()
            << " relay(s))\nissued " << format_utc(base.issued_at, "%Y-%m-%d %H:%M UTC")
            << ", expires " << format_utc(base.expires_at, "%Y-%m-%d %H:%M UTC") << "\n";
  if (base.forms.empty()) std::cout << "forms: none\n";
  for (const auto& f : base.forms)
    std::cout << "form " << f.form_id << " version " << f.version << "\n";
  if (imported->not_shredded)
    return fail("the profile holds the invite base, but " + path +
                " could not be shredded: remove it yourself (" + imported->not_shredded->message +
                ")");
  std::cout << path << " overwritten and removed\n"
            << "mint invites from it with `satchel coord invite`\n";
  return kExitOk;
}

}  // namespace

void add_coord_invite_base_commands(CLI::App& coord, Action& action) {
  auto* base = coord.add_subcommand("invite-base", "The organisation's signed invite base");
  base->require_subcommand(1);
  auto file = std::make_shared<std::string>();
  auto* imp = base->add_subcommand(
      "import",
      "Verify FILE (invite-base-…) against the trusted organisation, keep it in the "
      "profile in place of an older one, then shred FILE");
  imp->add_option("FILE", *file, "the invite base file (a secret)")->required();
  imp->callback([&action, file] { action = [file] { return invite_base_import(*file); }; });
}

}  // namespace satchel::cli
