// `satchel coord pull`: every bundle the relay holds for this coordinator, downloaded, checked
// against its upload id, imported, and only then acknowledged (schema/relay-api.md, "Bulk
// pulls" and "When a coordinator acknowledges"). Bundles up to 1 MiB travel in batches (one
// fetch, one import transaction, one acknowledgement request per batch); larger ones are
// downloaded alone into a private file, resuming by Range after a cut, in constant memory.
// Re-running, or a crash at any point, never loses or duplicates a record: a bundle imported but
// not yet acknowledged is a duplicate next time, and is acknowledged then.
#pragma once

#include <cstdint>
#include <functional>

#include "satchel/client/profile.h"
#include "satchel/client/relay_client.h"

namespace satchel::coord {

struct PullOptions {
  client::RelayClientOptions relay;
  size_t relay_index = 0;  // which relay of the roster
  int page_size = 1000;    // uploads listed per request (1..1000)
  // Network failures in a row, without progress, before a request is given up (a cut that
  // made progress is resumed at once and does not count).
  int download_attempts = 8;
  int64_t now = 0;  // Unix seconds
  // Called after each bundle (done, total listed so far) for a progress display.
  std::function<void(uint64_t done, uint64_t listed)> progress;
  // Waits between retries (tests replace it).
  std::function<void(int64_t seconds)> sleep;
};

struct PullSummary {
  uint64_t imported = 0, duplicate = 0, cover = 0, quarantined = 0, retractions = 0;
  uint64_t joined = 0;        // device hellos filed: their invite recorded (ImportResult::kJoined)
  uint64_t already_kept = 0;  // in quarantine from an earlier pull: not downloaded again
  uint64_t acknowledged = 0;  // acknowledged as held
  uint64_t not_mine = 0;      // declared not mine: no slot opens for this coordinator
  uint64_t bytes_downloaded = 0;
  uint64_t bundle_bytes = 0;  // sizes of the bundles downloaded
  // The most acknowledgements the relay required of any bundle listed, and the roster's
  // coordinators: fewer means k < n, and this coordinator sees only what it pulled first.
  uint64_t most_required = 0;
  uint64_t coordinators = 0;
};

// The profile setting in which a pull that saw k < n records it ("k/n"; empty once a pull
// lists bundles that every coordinator must acknowledge), for `coord devices`.
inline constexpr const char* kRelayAckRuleSetting = "relay_ack_rule";

// Pulls from the roster's relay. An error (network, relay refusal, disk) stops the pull; what
// was imported and acknowledged before it stays so, and the next pull carries on.
Result<PullSummary> pull(client::Profile& profile, const PullOptions& options);

}  // namespace satchel::coord
