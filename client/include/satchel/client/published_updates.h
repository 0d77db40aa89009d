// What the organisation published on the relay, fetched by a device: newer rosters and forms
// (schema/trust-documents.md, "Published documents"). Each document is opened with the
// publication key the device received in its invite, verified against the organisation it
// trusts, and kept only if newer than what it holds; everything else is refused and reported.
// `satchel join` and every `satchel sync` run this.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "satchel/client/profile.h"
#include "satchel/client/relay_client.h"
#include "satchel/crypto/invite.h"

namespace satchel::client {

struct UpdateReport {
  uint64_t roster_before = 0;            // roster version held before (0: none)
  uint64_t roster_after = 0;             // and after
  std::vector<std::string> forms_added;  // "intake version 2"
  std::vector<std::string> problems;     // documents refused or skipped, one line each
  bool hello_requeued = false;           // the stored hello was queued again for coordinators added
  uint64_t probes = 0;                   // documents asked for
};

// Which forms to keep, asked of each verified envelope: nullopt keeps it, "" skips it silently,
// any other text refuses it with that reason (reported). Unset: every form the organisation
// signed that is newer than the version held.
using FormFilter = std::function<std::optional<std::string>(const FormEnvelope&)>;

// Probes published rosters above the held version and forms above relay.form_number (each up
// to the gap limit, and at most kMaxPublishedProbes documents of each kind per run); keeps
// those that verify, are newer and unexpired at `now`. Only a relay or local storage error
// fails; a bad document is a line in problems.
Result<UpdateReport> fetch_published_updates(Profile& profile, RelayClient& relay,
                                             const SecretBytes& token, const SecretBytes& key,
                                             int64_t now, const FormFilter& keep_form = {});

// When the roster held names a coordinator that the stored device hello (join.hello) was not yet
// sealed to, queues the hello again for the whole roster and records who it went to. Ok(false)
// when nothing was needed (no hello stored, or every coordinator has it).
Result<bool> resend_hello_to_new_coordinators(Profile& profile, int64_t now);

// Records that the stored hello went to every coordinator of the roster held (valid at `now`).
// Called when the hello is first queued.
Status record_hello_recipients(Profile& profile, int64_t now);

// The publication key stored at join (relay.publication_key), or nullopt for a device enrolled
// by code alone, which gets no published updates.
Result<std::optional<SecretBytes>> stored_publication_key(Profile& profile);

// Documents asked for per kind and run, whatever the relay answers: a relay that serves
// garbage at every number cannot keep a device probing.
inline constexpr uint64_t kMaxPublishedProbes = 256;

}  // namespace satchel::client
