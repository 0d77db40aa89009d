// `satchel join`: a new device joins its organisation with nothing but an invite
// (schema/trust-documents.md, "Invite (type 4)", "Device hello", "Published documents"). Each
// step is recorded in the profile as it completes, so a join cut after the relay code was
// redeemed resumes, when run again with the same invite, without redeeming it again.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/client/profile.h"
#include "satchel/client/relay_client.h"
#include "satchel/crypto/invite.h"

namespace satchel::client {

// Profile settings a join writes besides relay.url, relay.token and relay.token_id (which
// `satchel enroll` writes too) and the trust anchors (TrustStore).
inline constexpr const char* kPublicationKeySetting = "relay.publication_key";  // 64 hex digits
inline constexpr const char* kFormNumberSetting = "relay.form_number";  // highest form number seen
// Highest roster number seen on the relay (present, whether accepted or not): the next run
// probes after it, so documents refused once are not asked for again.
inline constexpr const char* kRosterNumberSetting = "relay.roster_number";
inline constexpr const char* kJoinInviteSetting = "join.invite_id";  // 32 hex digits
inline constexpr const char* kHelloSetting = "join.hello";           // the hello's bytes, hex

// The steps of a join, each recorded in the profile when reported.
enum class JoinStep {
  kTrusted,           // organisation key and the invite's roster held
  kRedeemed,          // token, token id, relay URL and publication key stored
  kDocumentsFetched,  // newer rosters and the invite's forms fetched
  kHelloQueued,       // the hello stored and queued in the outbox
};

struct JoinOptions {
  int64_t now = 0;           // Unix seconds: invite and roster expiry
  RelayClientOptions relay;  // proxy and timeouts for the invite's relay
  // Called after each step is recorded; an error ends the join there, as a cut would (the CLI
  // prints progress with it).
  std::function<Status(JoinStep)> on_step;
};

struct JoinReport {
  bool resumed = false;  // an earlier run with this invite had redeemed the code
  std::string relay_url;
  std::string token_id;
  uint64_t roster_version = 0;             // of the roster held at the end
  std::vector<std::string> forms_added;    // "intake version 1"
  std::vector<std::string> forms_missing;  // invite forms the relay did not (validly) serve
  std::vector<std::string> problems;       // documents refused or skipped: reported, not fatal
  bool hello_queued = false;               // false when an earlier run had queued it
  std::string device_fingerprint;          // for the optional in-person check
};

// Fails with kInvalidArgument unless `label` can name the device in a hello (1..64 bytes of
// UTF-8 without control characters).
Status check_device_label(const ConfirmedInvite& invite, std::string_view label);

// Changes nothing. Refuses a coordinator profile, one that trusts another organisation, and one
// enrolled with a relay other than by an earlier run of this very invite.
Status check_join_allowed(Profile& profile, const ConfirmedInvite& invite);

// Joins with a confirmed invite: trusts the organisation and its roster, redeems the relay
// code (skipped when an earlier run with this invite did), stores the publication key, fetches
// newer rosters and the invite's forms, and queues the device hello (once). A refusal before
// the redemption changes nothing; a failure after it keeps what was recorded.
Result<JoinReport> join_with_invite(Profile& profile, const ConfirmedInvite& invite,
                                    std::string_view label, const JoinOptions& options);

// Parses `invite_text` ("INV1-…"), confirms it with `typed_fingerprint` at options.now (D11),
// then joins as join_with_invite. Any refusal before the redemption changes nothing.
Result<JoinReport> join_with_invite_text(Profile& profile, ByteView invite_text,
                                         std::string_view typed_fingerprint, std::string_view label,
                                         const JoinOptions& options);

}  // namespace satchel::client
