// Opening the profile from the command line (shared by every command that needs it).
#pragma once

#include <optional>
#include <string>

#include "satchel/client/profile.h"

namespace satchel::cli {

// The profile directory chosen by --home, SATCHEL_HOME or the default for that kind.
std::string profile_home(client::ProfileKind kind = client::ProfileKind::kField);
// Asks for the passphrase (terminal or descriptor) and unlocks the profile, which must be of
// kind `kind` (a clear refusal otherwise).
Result<client::Profile> open_profile(client::ProfileKind kind = client::ProfileKind::kField);
// A warning when swap is on and does not look encrypted; nullopt otherwise.
std::optional<std::string> swap_warning();

}  // namespace satchel::cli
