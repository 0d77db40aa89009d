// `satchel coord …`: the coordinator's commands (cli_coord.cpp), and `satchel whoami`.
#pragma once

#include "cli/cli.h"

namespace satchel::cli {

void add_coord_commands(CLI::App& app, Action& action);
// `coord backup` and `coord restore` (cli_backup.cpp), on the `coord` command.
void add_coord_backup_commands(CLI::App& coord, Action& action);
// `coord invite-base import` (cli_invite_base.cpp), on the `coord` command.
void add_coord_invite_base_commands(CLI::App& coord, Action& action);
// `coord invite` and `coord publish` (cli_coord_invite.cpp), on the `coord` command.
void add_coord_invite_commands(CLI::App& coord, Action& action);
void add_whoami_command(CLI::App& app, Action& action);

}  // namespace satchel::cli
