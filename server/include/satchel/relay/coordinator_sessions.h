// Coordinator authentication: the relay hands out a fresh nonce bound to a mailbox; the
// coordinator signs relay_challenge_message(pin, mailbox, nonce, issued_at) with its Ed25519
// relay key and gets a short-lived session token. Challenges are single-use and live only in
// memory, as do sessions (a restart ends them all).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/relay/clock.h"
#include "satchel/relay/mailbox_registry.h"

namespace satchel::relay {

struct SessionPolicy {
  int64_t challenge_ttl = 120;     // seconds a nonce may be answered
  int64_t session_ttl = 900;       // seconds a session lasts
  int64_t issued_at_window = 300;  // |issued_at - now| accepted, seconds
  size_t max_challenges = 4096;    // outstanding nonces, all mailboxes together
  size_t max_sessions = 4096;
};

struct Challenge {
  std::string nonce;       // base64url of 32 random bytes
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

class CoordinatorSessions {
 public:
  // `pin`: the SPKI SHA-256 the challenges are bound to (the relay's own certificate, or the
  // public certificate of the proxy in front of it).
  CoordinatorSessions(const Clock& clock, const Hash32& pin, SessionPolicy policy = {});

  // A fresh nonce bound to `mailbox_id` (any well-formed id: whether the mailbox exists is not
  // revealed). kAlreadyExists when too many challenges are outstanding.
  Result<Challenge> issue_challenge(std::string_view mailbox_id);
  // Consumes the nonce whatever the outcome, then checks that it was issued for this mailbox
  // and is fresh, that `issued_at` is within the window, that `key` is registered for the
  // mailbox and that it signed the challenge message. Any failure is kInvalidArgument with the
  // reason for the relay's own use (callers answer a generic 401).
  Result<SessionGrant> open_session(std::string_view mailbox_id,
                                    const std::optional<ActiveMailbox>& mailbox, const Key32& key,
                                    std::string_view nonce, int64_t issued_at,
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
  std::mutex mu_;
  struct PendingChallenge {
    std::string mailbox;
    int64_t expires_at;
  };
  std::map<std::string, PendingChallenge, std::less<>> challenges_;  // by nonce text
  std::map<Hash32, CoordinatorSession> sessions_;  // by SHA-256 of the token's bytes
};

}  // namespace satchel::relay
