// `satchel coord pull`: every bundle the relay holds for this coordinator, downloaded (resuming
// by Range after a cut, in constant memory), checked against its upload id, imported (Importer:
// one transaction each), and only then acknowledged (schema/relay-api.md, "Acknowledgements").
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
  size_t relay_index = 0;     // which relay of the roster
  int page_size = 100;        // uploads listed per request
  int download_attempts = 8;  // per bundle, resuming from the bytes already received
  int64_t now = 0;            // Unix seconds
  // Called after each bundle (done, total listed so far) for a progress display.
  std::function<void(uint64_t done, uint64_t listed)> progress;
  // Waits between retries (tests replace it).
  std::function<void(int64_t seconds)> sleep;
};

struct PullSummary {
  uint64_t imported = 0, duplicate = 0, cover = 0, quarantined = 0, retractions = 0;
  uint64_t kept_unacknowledged = 0;  // did not open for this coordinator: left on the relay
  uint64_t acknowledged = 0;
  uint64_t bytes_downloaded = 0;
  uint64_t bundle_bytes = 0;  // sizes of the bundles downloaded
};

// Pulls from the roster's relay. An error (network, relay refusal, disk) stops the pull; what
// was imported and acknowledged before it stays so, and the next pull carries on.
Result<PullSummary> pull(client::Profile& profile, const PullOptions& options);

}  // namespace satchel::coord
