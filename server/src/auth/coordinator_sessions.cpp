// Challenge-response sessions for coordinators (schema/trust-documents.md, "Relay challenge").
#include "satchel/relay/coordinator_sessions.h"

#include <sodium.h>

#include <algorithm>

#include "satchel/relay/credentials.h"

namespace satchel::relay {

namespace {
Error refused(const char* why) {
  return make_error(Errc::kInvalidArgument, why);
}
}  // namespace

CoordinatorSessions::CoordinatorSessions(const Clock& clock, const Hash32& pin,
                                         SessionPolicy policy, ChallengeVerifier verifier)
    : clock_(clock),
      pin_(pin),
      policy_(policy),
      verifier_(std::move(verifier)),
      nonces_(policy.challenge_ttl) {}

void CoordinatorSessions::purge_locked(int64_t now) {
  std::erase_if(spent_, [now](const auto& n) { return n.second <= now; });
  std::erase_if(sessions_, [now](const auto& s) { return s.second.expires_at <= now; });
}

Result<Challenge> CoordinatorSessions::issue_challenge(std::string_view mailbox_id) {
  if (!is_mailbox_id(mailbox_id)) return refused("malformed mailbox id");
  return Challenge{nonces_.issue(mailbox_id, clock_.now()), policy_.challenge_ttl};
}

Result<SessionGrant> CoordinatorSessions::open_session(std::string_view mailbox_id,
                                                       const MailboxLookup& lookup,
                                                       const Key32& key, std::string_view nonce,
                                                       int64_t issued_at,
                                                       const std::array<uint8_t, 64>& signature) {
  const int64_t now = clock_.now();
  // Checks that depend only on the request: their timing reveals nothing the caller lacks.
  if (!is_mailbox_id(mailbox_id)) return refused("malformed mailbox id");
  auto nonce_bytes = nonces_.check(mailbox_id, nonce, now);
  if (!nonce_bytes) return nonce_bytes.error();
  if (issued_at < now - policy_.issued_at_window || issued_at > now + policy_.issued_at_window)
    return refused("issued_at outside the accepted window");
  {
    std::lock_guard lock(mu_);
    if (spent_.contains(*nonce_bytes)) return refused("spent nonce");
  }
  // From here the same work whatever the relay holds: one lookup, a scan of the registered
  // keys without an early exit, and one signature verification against the key presented.
  auto found = lookup(mailbox_id);
  if (!found) return make_error(Errc::kInternal, found.error().message);
  const bool exists = found->has_value() && (*found)->id == mailbox_id;
  bool registered = false;
  if (exists)
    for (const Key32& k : (*found)->registration.coordinator_auth_keys)
      registered |= sodium_memcmp(k.data(), key.data(), key.size()) == 0;
  auto message = relay_challenge_message(pin_, as_bytes(mailbox_id), as_bytes(nonce), issued_at);
  if (!message) return message.error();
  const bool verified = verifier_(key, *message, signature);
  if (!(exists & registered & verified))
    return refused("no such mailbox, key not registered for it, or bad signature");

  SessionGrant grant{random_bearer_token(), policy_.session_ttl};
  const auto hash = bearer_token_hash(grant.token);
  if (!hash) return make_error(Errc::kInternal, "generated session token does not parse");
  std::lock_guard lock(mu_);
  if (sessions_.size() >= policy_.max_sessions || spent_.size() >= policy_.max_sessions)
    purge_locked(now);
  if (sessions_.size() >= policy_.max_sessions || spent_.size() >= policy_.max_sessions)
    return make_error(Errc::kAlreadyExists, "too many sessions");
  // Spent under this lock, so two requests racing with one nonce open one session; kept until
  // the nonce can no longer pass check() (one ttl either side of its issue time).
  if (!spent_.emplace(*nonce_bytes, now + 2 * policy_.challenge_ttl + 1).second)
    return refused("spent nonce");
  sessions_[*hash] = CoordinatorSession{std::string(mailbox_id), key, now + policy_.session_ttl};
  return grant;
}

std::optional<CoordinatorSession> CoordinatorSessions::authenticate(std::string_view token) {
  const auto hash = bearer_token_hash(token);
  if (!hash) return std::nullopt;
  const int64_t now = clock_.now();
  std::lock_guard lock(mu_);
  auto it = sessions_.find(*hash);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires_at <= now) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

size_t CoordinatorSessions::end_unregistered(std::string_view mailbox_id,
                                             const std::vector<Key32>& registered) {
  std::lock_guard lock(mu_);
  return std::erase_if(sessions_, [&](const auto& s) {
    return s.second.mailbox == mailbox_id && std::find(registered.begin(), registered.end(),
                                                       s.second.coordinator) == registered.end();
  });
}

bool CoordinatorSessions::ended_early(const Hash32& token_hash, int64_t expires_at) {
  // A session leaves the map only when it expires or is ended: absent before its expiry
  // means ended.
  const int64_t now = clock_.now();
  std::lock_guard lock(mu_);
  return now < expires_at && !sessions_.contains(token_hash);
}

}  // namespace satchel::relay
