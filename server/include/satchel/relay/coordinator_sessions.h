// Coordinator authentication: the relay hands out a fresh nonce bound to a mailbox; the
// coordinator signs relay_challenge_message(pin, mailbox, nonce, issued_at) with its Ed25519
// relay key and gets a short-lived session token. Nonces are stateless (challenge_nonces.h):
// issuing one stores nothing; a nonce is spent only by the session it opens, and spent nonces
// and sessions live only in memory (a restart ends them all). A session check does the same
// work — one mailbox lookup, one signature verification — whether the mailbox exists and
// whether the key is registered for it, so its timing does not tell them apart.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/relay/challenge_nonces.h"
#include "satchel/relay/clock.h"
#include "satchel/relay/mailbox_registry.h"

namespace satchel::relay {

struct SessionPolicy {
  int64_t challenge_ttl = 120;     // seconds a nonce may be answered
  int64_t session_ttl = 900;       // seconds a session lasts
  int64_t issued_at_window = 300;  // |issued_at - now| accepted, seconds
  size_t max_sessions = 4096;      // live sessions, and spent nonces not yet expired
};

struct Challenge {
  std::string nonce;       // base64url of 32 bytes: time, random, MAC (challenge_nonces.h)
  int64_t expires_in = 0;  // seconds
};

struct CoordinatorSession {
  std::string mailbox;
  Key32 coordinator{};  // the Ed25519 relay key that signed the challenge
  int64_t expires_at = 0;
};

struct SessionGrant {
  std::string token;  // base64url, 43 characters
  int64_t expires_in = 0;
};

// Verifies a coordinator's Ed25519 signature of a challenge message (verify_relay_challenge;
// a test substitutes one that counts the verifications).
using ChallengeVerifier =
    std::function<bool(const Key32& key, ByteView message, const std::array<uint8_t, 64>& sig)>;
// The mailbox with this id, or nullopt if there is none (MailboxRegistry::find; a test
// substitutes one that counts the lookups).
using MailboxLookup = std::function<Result<std::optional<ActiveMailbox>>(std::string_view id)>;

class CoordinatorSessions {
 public:
  // `pin`: the SPKI SHA-256 the challenges are bound to (the relay's own certificate, or the
  // public certificate of the proxy in front of it).
  CoordinatorSessions(const Clock& clock, const Hash32& pin, SessionPolicy policy = {},
                      ChallengeVerifier verifier = verify_relay_challenge);

  // A fresh nonce bound to `mailbox_id` (any well-formed id: whether the mailbox exists is not
  // revealed). Stores nothing, so it never refuses for load; kInvalidArgument for a malformed id.
  Result<Challenge> issue_challenge(std::string_view mailbox_id);
  // Checks that the nonce was issued by this relay for this mailbox, is fresh and unspent, and
  // that `issued_at` is within the window (cheap checks that depend only on the request); then
  // looks the mailbox up once and verifies the signature once, against `key`, whatever the
  // lookup found; succeeds only if the mailbox exists, `key` is registered for it and the
  // signature verifies, and then spends the nonce. Failures are kInvalidArgument with a reason
  // for the relay's own use (callers answer a generic 401); kInternal if the lookup failed;
  // kAlreadyExists when max_sessions sessions (or spent nonces) are live.
  Result<SessionGrant> open_session(std::string_view mailbox_id, const MailboxLookup& lookup,
                                    const Key32& key, std::string_view nonce, int64_t issued_at,
                                    const std::array<uint8_t, 64>& signature);
  // The live session for this token, or nullopt.
  std::optional<CoordinatorSession> authenticate(std::string_view token);
  // Ends at once every session of `mailbox_id` whose coordinator key is not in `registered`
  // (a newer registration dropped it); returns how many ended.
  size_t end_unregistered(std::string_view mailbox_id, const std::vector<Key32>& registered);
  // True if the session with this token hash, due to expire at `expires_at`, was ended before
  // then by end_unregistered: an answer still being sent for it stops.
  bool ended_early(const Hash32& token_hash, int64_t expires_at);

 private:
  void purge_locked(int64_t now);

  const Clock& clock_;
  Hash32 pin_;
  SessionPolicy policy_;
  ChallengeVerifier verifier_;
  ChallengeNonces nonces_;
  std::mutex mu_;
  // Nonces that opened a session, until their ttl runs out (only a verified signature adds one).
  std::map<NonceBytes, int64_t> spent_;
  std::map<Hash32, CoordinatorSession> sessions_;  // by SHA-256 of the token's bytes
};

}  // namespace satchel::relay
