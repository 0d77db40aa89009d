// Mailbox creation and replacement from signed registrations, and their verified cache.
#include "satchel/relay/mailbox_registry.h"

namespace satchel::relay {

namespace {
std::string_view trimmed(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}
}  // namespace

size_t ActiveMailbox::required_acks() const {
  const size_t n = registration.coordinator_auth_keys.size();
  return registration.required_acks == 0 || registration.required_acks > n
             ? n
             : registration.required_acks;
}

MailboxRegistry::MailboxRegistry(RelayStore& store, uint32_t tombstone_days)
    : store_(store), tombstone_days_(tombstone_days) {}

Result<RegistrationOutcome> MailboxRegistry::register_mailbox(std::string_view registration_text,
                                                              Day today) {
  const std::string_view text = trimmed(registration_text);
  // First pass against the key it carries, only to learn which mailbox it is for.
  auto claimed = RelayRegistration::verify(text, std::nullopt);
  if (!claimed) return claimed.error();
  const std::string id = mailbox_id_for(claimed->org);
  std::lock_guard lock(mu_);
  auto held = store_.mailbox(id);
  if (!held) return held.error();
  RegistrationOutcome out{id, held->has_value(), claimed->version};
  if (*held) {
    // Same organisation id means the same key, but verify against the pinned key regardless.
    auto incoming = RelayRegistration::verify(text, (*held)->org);
    if (!incoming) return incoming.error();
    auto current = RelayRegistration::verify((*held)->registration, (*held)->org);
    if (!current) return current.error();
    SATCHEL_TRY(check_registration_update(current.value(), incoming.value()));
  } else {
    SATCHEL_TRY(check_registration_update(std::nullopt, claimed.value()));
  }
  SATCHEL_TRY(store_locked(id, claimed.value(), text, out.replaced, today));
  return out;
}

Result<ActiveMailbox> MailboxRegistry::replace_registration(std::string_view id,
                                                            std::string_view registration_text,
                                                            Day today) {
  const std::string_view text = trimmed(registration_text);
  std::lock_guard lock(mu_);
  if (!is_mailbox_id(id)) return make_error(Errc::kNotFound, "no such mailbox");
  auto held = store_.mailbox(id);
  if (!held) return held.error();
  if (!*held) return make_error(Errc::kNotFound, "no such mailbox");
  auto incoming = RelayRegistration::verify(text, (*held)->org);
  if (!incoming) return incoming.error();
  auto current = RelayRegistration::verify((*held)->registration, (*held)->org);
  if (!current)
    return make_error(Errc::kInternal,
                      "the held registration does not verify: " + current.error().message);
  SATCHEL_TRY(check_registration_update(current.value(), incoming.value()));
  SATCHEL_TRY(store_locked((*held)->id, incoming.value(), text, true, today));
  return ActiveMailbox{(*held)->id, std::move(incoming.value())};
}

Status MailboxRegistry::store_locked(const std::string& id, const RelayRegistration& incoming,
                                     std::string_view text, bool replaced, Day today) {
  SATCHEL_TRY(
      store_.put_mailbox(MailboxRecord{id, incoming.org, incoming.version, std::string(text)},
                         incoming.coordinator_auth_keys));
  // Cached at once, verified: a session check's lookup then does the same work for a new
  // mailbox as for one already checked (no registration verification on first use).
  ActiveMailbox active{id, incoming};
  cache_.insert_or_assign(id, active);
  if (replaced) {
    auto swept =
        store_.deliver_acknowledged(id, active.registration.coordinator_auth_keys,
                                    active.required_acks(), today, today + tombstone_days_);
    if (!swept) return swept.error();
  }
  return Status::Ok();
}

Status MailboxRegistry::warm_once() {
  std::lock_guard lock(mu_);
  if (warmed_) return Status::Ok();
  auto all = store_.mailboxes();
  if (!all) return all.error();
  for (const MailboxRecord& m : *all)
    if (auto v = RelayRegistration::verify(m.registration, m.org))
      cache_.insert_or_assign(m.id, ActiveMailbox{m.id, std::move(v.value())});
  warmed_ = true;
  return Status::Ok();
}

Result<std::optional<ActiveMailbox>> MailboxRegistry::find(std::string_view id) {
  if (!is_mailbox_id(id)) return std::optional<ActiveMailbox>();
  // Before the lookup, whichever id is asked for: existing and missing mailboxes then cost the
  // same from the first request on.
  SATCHEL_TRY(warm_once());
  auto record = store_.mailbox(id);
  if (!record) return record.error();
  if (!*record) return std::optional<ActiveMailbox>();
  std::lock_guard lock(mu_);
  auto it = cache_.find(id);
  if (it != cache_.end() && it->second.registration.version == (*record)->version)
    return std::optional<ActiveMailbox>(it->second);
  auto verified = RelayRegistration::verify((*record)->registration, (*record)->org);
  if (!verified) return verified.error();
  ActiveMailbox active{std::string(id), std::move(verified.value())};
  cache_.insert_or_assign(std::string(id), active);
  return std::optional<ActiveMailbox>(std::move(active));
}

}  // namespace satchel::relay
