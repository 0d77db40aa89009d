#include "satchel/coord/coordinator_link.h"

#include "satchel/client/trust_store.h"

namespace satchel::coord {

Result<CoordinatorLink> open_coordinator_link(client::Profile& profile, size_t relay_index,
                                              const client::RelayClientOptions& options,
                                              int64_t now) {
  SATCHEL_TRY(profile.require_kind(client::ProfileKind::kCoordinator));
  auto key = profile.coordinator_key();
  if (!key) return key.error();
  auto roster = client::TrustStore(profile).roster(now);
  if (!roster) return roster.error();
  if (!*roster)
    return make_error(Errc::kNotFound, "no roster: add one with `satchel coord roster add`");
  if (relay_index >= (*roster)->relays.size())
    return make_error(Errc::kInvalidArgument,
                      "the roster names " + std::to_string((*roster)->relays.size()) +
                          " relay(s); there is no relay " + std::to_string(relay_index));
  const RosterRelay& relay = (*roster)->relays[relay_index];
  auto url = client::parse_relay_url(relay.url);
  if (!url) return url.error();
  auto client = client::RelayClient::create(*url, {relay.spki_pin, relay.backup_pin}, options);
  if (!client) return client.error();
  CoordinatorLink link;
  const OrgId org = (*roster)->org_id();
  link.mailbox = to_hex(ByteView(org.data(), org.size()));
  auto session = (*client)->open_session(*key, link.mailbox, now);
  if (!session) return session.error();
  link.relay = std::move(*client);
  link.roster = std::move(**roster);
  link.relay_index = relay_index;
  link.session = std::move(*session);
  return link;
}

}  // namespace satchel::coord
