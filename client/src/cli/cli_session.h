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
// Options of `init` and `coord init`.
struct InitArgs {
  bool allow_weak = false;
  uint32_t kdf_passes = 0, kdf_memory_mib = 0;
};
// Creates a profile of `contents.kind` in its home: a new passphrase (offered, typed twice,
// judged by zxcvbn), Argon2id calibrated unless given; prints the profile's public key.
int init_profile(const InitArgs& args, client::ProfileContents contents);
// A new passphrase: offered as generated words on a terminal, typed twice, judged by zxcvbn
// unless allow_weak; one line from --passphrase-fd.
Result<SecretBytes> new_passphrase(bool allow_weak);
// The Argon2id parameters of a new profile: as given (raised to the floor), else calibrated to
// about 0.5 s on this machine (announced on stderr).
client::Argon2Params argon2_params(const InitArgs& args);

// A warning when swap is on and does not look encrypted; nullopt otherwise.
std::optional<std::string> swap_warning();

}  // namespace satchel::cli
