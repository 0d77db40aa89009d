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
                                         SessionPolicy policy)
    : clock_(clock), pin_(pin), policy_(policy) {}

void CoordinatorSessions::purge_locked(int64_t now) {
  std::erase_if(challenges_, [now](const auto& c) { return c.second.expires_at <= now; });
  std::erase_if(sessions_, [now](const auto& s) { return s.second.expires_at <= now; });
}

Result<Challenge> CoordinatorSessions::issue_challenge(std::string_view mailbox_id) {
  if (!is_mailbox_id(mailbox_id)) return refused("malformed mailbox id");
  const int64_t now = clock_.now();
  std::lock_guard lock(mu_);
  if (challenges_.size() >= policy_.max_challenges) purge_locked(now);
  if (challenges_.size() >= policy_.max_challenges)
    return make_error(Errc::kAlreadyExists, "too many outstanding challenges");
  Challenge c{random_bearer_token(), policy_.challenge_ttl};
  challenges_.emplace(c.nonce,
                      PendingChallenge{std::string(mailbox_id), now + policy_.challenge_ttl});
  return c;
}

Result<SessionGrant> CoordinatorSessions::open_session(std::string_view mailbox_id,
                                                       const std::optional<ActiveMailbox>& mailbox,
                                                       const Key32& key, std::string_view nonce,
                                                       int64_t issued_at,
                                                       const std::array<uint8_t, 64>& signature) {
  const int64_t now = clock_.now();
  PendingChallenge pending;
  {
    std::lock_guard lock(mu_);
    auto it = challenges_.find(nonce);
    if (it == challenges_.end()) return refused("unknown or used nonce");
    pending = it->second;
    challenges_.erase(it);  // single use, whatever follows
  }
  if (pending.expires_at <= now) return refused("expired nonce");
  if (pending.mailbox != mailbox_id) return refused("nonce issued for another mailbox");
  if (issued_at < now - policy_.issued_at_window || issued_at > now + policy_.issued_at_window)
    return refused("issued_at outside the accepted window");
  if (!mailbox || mailbox->id != mailbox_id) return refused("no such mailbox");
  const auto& keys = mailbox->registration.coordinator_auth_keys;
  if (std::find(keys.begin(), keys.end(), key) == keys.end())
    return refused("key not registered for the mailbox");
  auto message = relay_challenge_message(pin_, as_bytes(mailbox_id), as_bytes(nonce), issued_at);
  if (!message) return message.error();
  if (!verify_relay_challenge(key, *message, signature)) return refused("bad signature");

  SessionGrant grant{random_bearer_token(), policy_.session_ttl};
  const auto hash = bearer_token_hash(grant.token);
  if (!hash) return make_error(Errc::kInternal, "generated session token does not parse");
  std::lock_guard lock(mu_);
  if (sessions_.size() >= policy_.max_sessions) purge_locked(now);
  if (sessions_.size() >= policy_.max_sessions)
    return make_error(Errc::kAlreadyExists, "too many sessions");
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
