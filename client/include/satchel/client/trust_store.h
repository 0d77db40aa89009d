// Trust anchors inside the encrypted profile: the organisation key the device trusts, the
// current roster, and the signed forms. Nothing here lives in a plain config file.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "satchel/client/profile.h"
#include "satchel/crypto/trust_documents.h"
#include "satchel/form/form.h"

namespace satchel::client {

struct StoredForm {
  std::string form_id;
  uint64_t version = 0;
  std::string content;  // form JSON as signed
};

class TrustStore {
 public:
  explicit TrustStore(Profile& profile) : profile_(profile) {}

  Result<std::optional<OrgPublicKey>> organisation();
  // Sets the organisation key; refuses to replace a different one already trusted.
  Status trust_organisation(const OrgPublicKey& org);

  // The held roster, re-verified (signature and expiry at `now`).
  Result<std::optional<Roster>> roster(int64_t now);
  // Verifies a signed roster against the trusted organisation and accepts it only if newer
  // than the one held and unexpired. Returns the accepted roster.
  Result<Roster> add_roster(std::string_view text, int64_t now);

  // In a coordinator profile, remembers the coordinators `roster` lists (with the name the
  // newest roster gave each); in any other profile, does nothing. add_roster calls it for the
  // roster it replaces and the one it accepts; callers add rosters seen elsewhere (an invite
  // base's). `roster` must have been verified against the trusted organisation.
  Status remember_coordinators(const Roster& roster);
  // The name of a coordinator any remembered roster listed, by its Ed25519 relay key, or nullopt.
  Result<std::optional<std::string>> known_coordinator(const Key32& relay_key);

  // Verifies a signed form package, parses the form, and stores it if newer than any version
  // held. Returns the parsed form.
  Result<form::Form> add_form(std::string_view package_text, const std::string& source_name);
  Result<std::vector<StoredForm>> latest_forms();
  // The latest version of a form, or the given version.
  Result<form::Form> form(const std::string& form_id,
                          std::optional<uint64_t> version = std::nullopt);

 private:
  Result<OrgPublicKey> require_organisation();
  Profile& profile_;
};

}  // namespace satchel::client
