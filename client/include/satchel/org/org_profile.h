// Creating the organisation profile (`satchel org init`): an encrypted profile of kind
// organisation holding the signing key, generated or imported from a key file that is then
// shredded, with the organisation's settings and secrets.
#pragma once

#include <optional>
#include <string>

#include "satchel/client/profile.h"
#include "satchel/org/org_state.h"

namespace satchel::org {

// A key read from an `orgsec-` key file for `org init --import-key`, and where it came from.
struct KeyImport {
  OrgSecretKey key;
  std::string path;
};

// Reads the key file; refuses one that holds no organisation secret key, naming the file.
Result<KeyImport> read_key_file(const std::string& path);

struct CreatedProfile {
  client::ProfileInfo info;
  // Set when the profile holds the imported key but its file could not be shredded.
  std::optional<Error> not_shredded;
};

// Creates the profile in `home` with `settings` (checked first: nothing is created for bad
// ones), holding the imported key or a new one. An imported key's file is shredded (overwritten,
// synced, unlinked) once the profile holds the key.
Result<CreatedProfile> create_profile(const std::string& home, const SecretBytes& passphrase,
                                      client::Argon2Params params, const OrgSettings& settings,
                                      std::optional<KeyImport> import);

}  // namespace satchel::org
