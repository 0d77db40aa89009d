// `satchel org …`: signing with an offline key file (cli_org.cpp) and the organisation profile
// (cli_org_profile.cpp).
#pragma once

#include "cli/cli.h"

namespace satchel::cli {

// `org init | set | show | coordinator | relay | forms | publish | invite-base`, on the `org`
// command: the organisation's encrypted profile and what it signs.
void add_org_profile_commands(CLI::App& org, Action& action);

}  // namespace satchel::cli
