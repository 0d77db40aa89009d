// Relay: the state the relay's endpoints share — configuration, store, clock, mailboxes,
// coordinator sessions and abuse limits. One per serving process (or per test server).
#pragma once

#include "satchel/relay/clock.h"
#include "satchel/relay/coordinator_sessions.h"
#include "satchel/relay/mailbox_registry.h"
#include "satchel/relay/relay_config.h"
#include "satchel/relay/relay_store.h"
#include "satchel/relay/request_limits.h"
#include "satchel/relay/token_budgets.h"

namespace satchel::relay {

// Failed anonymous requests (enrollment, session) allowed per client address per minute in
// direct mode (tls on); behind nginx the proxy limits addresses itself.
inline constexpr uint32_t kAddressFailuresPerMinute = 60;

struct Relay {
  // `challenge_pin`: the SPKI pin coordinator challenges are bound to. `config`, `store` and
  // `clock` must outlive the Relay.
  Relay(const RelayConfig& relay_config, RelayStore& relay_store, const Clock& relay_clock,
        const Hash32& challenge_pin)
      : config(relay_config),
        store(relay_store),
        clock(relay_clock),
        mailboxes(relay_store, relay_config.tombstone_days),
        sessions(relay_clock, challenge_pin),
        credential_rate(relay_clock, relay_config.limits.token_requests_per_minute),
        anonymous_rate(relay_clock, relay_config.limits.anonymous_requests_per_minute),
        address_failures(relay_clock, relay_config.tls ? kAddressFailuresPerMinute : 0),
        daily_bytes(relay_clock, relay_config.limits.token_daily_bytes),
        upload_slots(relay_config.limits.max_concurrent_uploads),
        token_budgets(relay_config.limits, relay_config.partial_expiry_days) {}

  const RelayConfig& config;
  RelayStore& store;
  const Clock& clock;
  MailboxRegistry mailboxes;
  CoordinatorSessions sessions;
  RateLimiter credential_rate;  // per upload token or coordinator session
  RateLimiter anonymous_rate;   // failed enrollments, sessions and authentication, all clients
  AddressFailureLimit address_failures;  // failed enrollments and sessions per address (direct)
  DailyByteAllowance daily_bytes;        // per upload token
  UploadSlots upload_slots;
  TokenBudgets token_budgets;  // per device token: threads, slots, unfinished uploads (memory)
};

}  // namespace satchel::relay
