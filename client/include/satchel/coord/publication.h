// `satchel coord publish DIR`: puts what the organisation signed (`satchel org publish -o DIR`)
// on the relay for the devices of the mailbox: the roster and the signed form packages, as
// published documents under the invite base's publication key (schema/trust-documents.md,
// "Published documents").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "satchel/client/profile.h"
#include "satchel/client/relay_client.h"

namespace satchel::coord {

struct PublishRequest {
  // Holds roster.txt, forms/NNNNNN.form (NNNNNN: the publication number) and, optionally,
  // registration.txt (the relay registration, which decides who may open sessions).
  std::string dir;
  size_t relay_index = 0;
  client::RelayClientOptions relay;
  int64_t now = 0;  // Unix seconds
};

struct PublishSummary {
  uint64_t roster_version = 0;         // published as roster number `roster_version`
  std::vector<uint64_t> form_numbers;  // published form packages, by number
  // The registration version the relay holds after publishing (0: registration.txt absent),
  // and whether this publication changed it (false: it held that version or a newer one).
  uint64_t registration_version = 0;
  bool registration_updated = false;
  bool roster_taken = false;  // the folder's roster was newer than the coordinator's own: now held
};

// Verifies every document of `dir` against the organisation key the profile trusts (the roster
// also unexpired) before anything is sent, then publishes them all and uploads the registration
// (which ends the relay access of every coordinator it no longer lists, this one's too if so).
// Refuses a form file not named by a number, or a folder without a roster.
Result<PublishSummary> publish_directory(client::Profile& profile, const PublishRequest& request);

}  // namespace satchel::coord
