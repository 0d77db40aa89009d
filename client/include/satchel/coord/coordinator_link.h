// A coordinator's authenticated connection to one relay of its roster: the relay client (pinned
// to the roster's pins for that relay), the mailbox, and an open session.
#pragma once

#include <memory>
#include <string>

#include "satchel/client/profile.h"
#include "satchel/client/relay_client.h"
#include "satchel/crypto/trust_documents.h"

namespace satchel::coord {

struct CoordinatorLink {
  std::unique_ptr<client::RelayClient> relay;
  Roster roster;  // the roster the profile holds, valid at the time of opening
  size_t relay_index = 0;
  std::string mailbox;  // 32 hex digits: the organisation id
  SecretBytes session;  // the session token (it lasts 900 s)
};

// Opens a session at relay `relay_index` of the roster held by the coordinator profile (valid at
// `now`: an expired roster's pins may belong to a key copied since).
// Refuses a profile of another kind, a missing roster or a relay index it does not have.
Result<CoordinatorLink> open_coordinator_link(client::Profile& profile, size_t relay_index,
                                              const client::RelayClientOptions& options,
                                              int64_t now);

}  // namespace satchel::coord
