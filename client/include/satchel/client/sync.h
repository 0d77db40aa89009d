// Sending the outbox to the relay: every pending bundle is uploaded with tus, resumed from the
// relay's committed offset after any failure, and (by default) deleted from the device once the
// relay answers "stored". States are persisted before acting: sealed -> uploading(offset) ->
// stored (kept only when the device keeps bundles until delivered) -> gone; a bundle written to a
// folder carries the exported mark whatever its state.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "satchel/client/outbox.h"
#include "satchel/client/relay_client.h"

namespace satchel::client {

struct SyncProgress {
  size_t bundle = 0;  // 1-based index of the bundle being sent
  size_t bundles = 0;
  uint64_t bytes_done = 0;  // of all bundles in this run, as committed by the relay
  uint64_t bytes_total = 0;
};

struct SyncOptions {
  // Delete a bundle from the device when the relay has stored it (send and forget); when
  // false, keep it (state "stored") until the relay reports it delivered.
  bool delete_when_stored = true;
  bool include_exported = true;  // also upload bundles already written to a folder
  uint32_t max_failures = 8;     // failed requests in a row without progress, per bundle
  uint64_t max_request_bytes = 16ull << 20;  // body bytes per request
  std::chrono::milliseconds backoff_base{1000};
  std::chrono::milliseconds backoff_cap{60000};
  // A Retry-After longer than this ends the run rather than waiting.
  std::chrono::seconds max_wait{120};
  std::function<void(std::chrono::milliseconds)> sleep;  // default: std::this_thread::sleep_for
  std::function<void(const SyncProgress&)> progress;     // optional
  std::function<bool()> cancelled;                       // optional: stop between requests
};

struct SyncReport {
  size_t stored = 0;          // newly stored (or found stored/delivered) on the relay in this run
  size_t deleted = 0;         // removed from the device
  size_t pending = 0;         // still on the device, not yet stored
  uint64_t bundle_bytes = 0;  // bytes of the bundles stored in this run
  uint64_t bytes_sent = 0;    // request body bytes sent, retries included
  size_t requests = 0;
  std::vector<std::string> problems;  // one line per bundle left pending, and why
};

// Uploads the outbox in random order. Per-bundle failures are reported in the SyncReport; the
// run fails as a whole only for a pin mismatch, a refused token, or a local storage error.
Result<SyncReport> sync_outbox(Outbox& outbox, RelayClient& relay, const SecretBytes& token,
                               const SyncOptions& options);

// Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^failures)], at least
// retry_after.
std::chrono::milliseconds backoff_delay(uint32_t failures, std::chrono::milliseconds base,
                                        std::chrono::milliseconds cap,
                                        std::chrono::seconds retry_after);

}  // namespace satchel::client
