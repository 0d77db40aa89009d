#include "coord/hello_import.h"

#include <climits>
#include <cstring>

#include "satchel/client/trust_store.h"
#include "satchel/coord/importer.h"
#include "satchel/crypto/invite.h"

namespace satchel::coord {

namespace {

// Every field of a hello with the longest label (schema/trust-documents.md, "Device hello").
constexpr uint64_t kMaxHelloBytes = 1 + 32 + 2 + 64 + 8 + 16 + 32 + 32 + 8 + 64 + 64;

ByteView view(const InviteId& id) {
  return ByteView(id.data(), id.size());
}
ByteView view(const Key32& k) {
  return ByteView(k.data(), k.size());
}

// The first 8 hex digits of an invite id: how it is shown.
std::string id_prefix(const InviteId& id) {
  return to_hex(view(id)).substr(0, 8);
}

HelloFiling refused(std::string reason) {
  return HelloFiling{HelloVerdict::kRefused, std::move(reason)};
}

// "device hello refused [doc-bad-signature]: the invite's signature does not verify".
HelloFiling refused_by_rule(const Error& e) {
  constexpr std::string_view kPrefix = "device hello: ";
  std::string_view what = e.message;
  if (what.substr(0, kPrefix.size()) == kPrefix) what.remove_prefix(kPrefix.size());
  return refused("device hello refused [" + std::string(errc_name(e.code)) +
                 "]: " + std::string(what));
}

Result<std::optional<DevicePublicKey>> device_of_invite(client::Profile& p, const InviteId& id) {
  auto st = p.db().prepare("SELECT device_key FROM coord_device_invites WHERE invite_id = ?1");
  if (!st) return st.error();
  st->bind_blob(1, view(id));
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<DevicePublicKey>();
  const ByteView k = st->blob(0);
  if (k.size() != 32) return make_error(Errc::kIoError, "a device invite row is damaged");
  DevicePublicKey d;
  std::memcpy(d.x25519.data(), k.data(), 32);
  return std::optional<DevicePublicKey>(d);
}

// A second device presents an invite that registered `holder`: a copy of the invite was used,
// and the hellos cannot tell which device is the advocate's. Both are left unverified: the
// holder loses the registration the invite gave it (one made in person stands), the dispute is
// recorded, and the second hello is quarantined.
Result<HelloFiling> dispute(client::Profile& p, const InviteId& id, const DevicePublicKey& holder,
                            const DevicePublicKey& sender, int64_t day) {
  {
    auto st = p.db().prepare(
        "INSERT OR IGNORE INTO coord_invite_disputes (invite_id, device_key, received_day) "
        "VALUES (?1, ?2, ?3)");
    if (!st) return st.error();
    st->bind_blob(1, view(id)).bind_blob(2, view(sender.x25519)).bind(3, day);
    SATCHEL_TRY(st->run());
  }
  bool unregistered = false;
  {
    auto st = p.db().prepare(
        "DELETE FROM coord_registrations WHERE device_key = ?1 AND how = 'invite' AND "
        "invite_id = ?2");
    if (!st) return st.error();
    st->bind_blob(1, view(holder.x25519)).bind_blob(2, view(id));
    SATCHEL_TRY(st->run());
    unregistered = p.db().changes() > 0;
  }
  if (unregistered) {
    auto st = p.db().prepare("UPDATE coord_devices SET label = NULL WHERE device_key = ?1");
    if (!st) return st.error();
    st->bind_blob(1, view(holder.x25519));
    SATCHEL_TRY(st->run());
  }
  return refused("a second hello for one invite: invite " + id_prefix(id) + " joined device " +
                 holder.fingerprint() + " already" +
                 (unregistered ? "; neither device is registered until one is checked in person "
                                 "(coord device add)"
                               : "; that device's registration in person stands"));
}

}  // namespace

Result<HelloFiling> file_device_hello(client::Profile& p, RandomAccessSource& body,
                                      const DevicePublicKey& sender, int64_t day) {
  // H1: the hello is small; a larger body is refused before it is read.
  if (body.size() > kMaxHelloBytes)
    return refused("device hello refused [doc-malformed]: " + std::to_string(body.size()) +
                   " bytes (a hello is at most " + std::to_string(kMaxHelloBytes) + ")");
  Bytes bytes(static_cast<size_t>(body.size()));
  SATCHEL_TRY(body.read_at(0, bytes));
  auto hello = DeviceHello::parse(bytes);
  if (!hello) return refused_by_rule(hello.error());
  client::TrustStore trust(p);
  auto org = trust.organisation();
  if (!org) return org.error();
  if (!*org)
    return refused(
        "device hello not checked: no organisation is trusted yet (satchel coord trust org)");
  // H2-H4: the sender, the organisation, the mint and the invite's signature.
  if (Status s = hello->verify(sender, org_id_for(**org)); !s) return refused_by_rule(s.error());
  // The minter: a coordinator of the roster held (expired or not: it is the latest known).
  auto roster = trust.roster(INT64_MIN);
  if (!roster) return roster.error();
  const RosterCoordinator* minter = nullptr;
  if (*roster)
    for (const auto& c : (*roster)->coordinators)
      if (c.key.ed25519 == hello->minter_key) minter = &c;
  // Or a coordinator of an earlier roster, removed since: the invite is recorded (one device per
  // invite still holds), but the device is not registered by it, since the mint time is the
  // minter's own word and its key may have minted after its removal.
  std::string minter_name;
  if (minter) {
    minter_name = minter->name;
  } else {
    auto known = trust.known_coordinator(hello->minter_key);
    if (!known) return known.error();
    if (*known) minter_name = **known + " (no longer in the roster)";
  }
  if (minter_name.empty())
    return refused("minted by no coordinator of the roster" +
                   (*roster ? " (version " + std::to_string((*roster)->version) + ")"
                            : std::string(" (no roster is held: satchel coord roster add)")) +
                   ": minter key " + to_hex(view(hello->minter_key)).substr(0, 16) + "…");
  // One device per invite.
  const InviteId id = hello->invite_id();
  auto holder = device_of_invite(p, id);
  if (!holder) return holder.error();
  if (*holder) {
    if (**holder == sender)
      return HelloFiling{HelloVerdict::kAlreadyJoined,
                         "device hello: invite " + id_prefix(id) + " joined this device already"};
    return dispute(p, id, **holder, sender, day);
  }
  {
    auto st = p.db().prepare(
        "INSERT INTO coord_device_invites (invite_id, device_key, token_id, label, minter_key, "
        "minter_name, minted_day, received_day) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!st) return st.error();
    st->bind_blob(1, view(id)).bind_blob(2, view(sender.x25519));
    st->bind_blob(3, ByteView(hello->token_id.data(), hello->token_id.size()));
    st->bind(4, hello->label).bind_blob(5, view(hello->minter_key)).bind(6, minter_name);
    st->bind(7, day_of(hello->minted_at)).bind(8, day);
    SATCHEL_TRY(st->run());
  }
  if (!minter)
    return HelloFiling{HelloVerdict::kJoined,
                       "device " + sender.fingerprint() + " presented invite " + id_prefix(id) +
                           " minted by " + minter_name +
                           ": recorded, not registered (a removed coordinator's key could mint "
                           "after its removal); check the device's fingerprint in person and "
                           "register it (coord device add)"};
  // Registered as joined by this invite, unless registered already (in person, or by an
  // earlier invite): that registration stands.
  {
    auto st = p.db().prepare(
        "UPDATE coord_devices SET label = ?2 WHERE device_key = ?1 AND label IS NULL");
    if (!st) return st.error();
    st->bind_blob(1, view(sender.x25519)).bind(2, hello->label);
    SATCHEL_TRY(st->run());
  }
  if (p.db().changes() == 0)
    return HelloFiling{HelloVerdict::kJoined, "device " + sender.fingerprint() +
                                                  " was registered already: invite " +
                                                  id_prefix(id) + " recorded, registration kept"};
  auto st = p.db().prepare(
      "INSERT OR REPLACE INTO coord_registrations (device_key, how, invite_id) "
      "VALUES (?1, 'invite', ?2)");
  if (!st) return st.error();
  st->bind_blob(1, view(sender.x25519)).bind_blob(2, view(id));
  SATCHEL_TRY(st->run());
  return HelloFiling{HelloVerdict::kJoined, "device " + sender.fingerprint() +
                                                " joined by invite " + id_prefix(id) +
                                                ", minted by " + minter_name};
}

}  // namespace satchel::coord
