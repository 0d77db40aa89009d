#include "satchel/coord/registry.h"

#include <algorithm>
#include <cstring>
#include <map>

namespace satchel::coord {

namespace {

Result<DevicePublicKey> device_of(ByteView b) {
  if (b.size() != 32) return make_error(Errc::kIoError, "stored device key damaged");
  DevicePublicKey k;
  std::memcpy(k.x25519.data(), b.data(), 32);
  return k;
}

// The invite columns (invite id, token id, label, minter name, minted day) from `col` on.
Result<InviteJoin> join_of(const client::Statement& st, int col) {
  const ByteView id = st.blob(col), token = st.blob(col + 1);
  if (id.size() != 16 || token.size() != 8)
    return make_error(Errc::kIoError, "a device invite row is damaged");
  InviteJoin j;
  std::memcpy(j.invite_id.data(), id.data(), 16);
  std::memcpy(j.token_id.data(), token.data(), 8);
  j.label = st.text(col + 2);
  j.minter_name = st.text(col + 3);
  j.minted_day = st.int64(col + 4);
  return j;
}

}  // namespace

Result<std::vector<DeviceReport>> device_reports(client::Profile& profile) {
  auto& db = profile.db();
  std::vector<DeviceReport> out;
  std::map<Key32, size_t> index;
  {
    auto st = db.prepare(
        "SELECT d.device_key, d.label, d.first_day, d.last_day, d.lost_after, r.how, i.invite_id, "
        "i.token_id, i.label, i.minter_name, i.minted_day FROM coord_devices d "
        "LEFT JOIN coord_registrations r ON r.device_key = d.device_key "
        "LEFT JOIN coord_device_invites i ON i.invite_id = r.invite_id "
        "ORDER BY d.label IS NULL, d.label, d.first_day");
    if (!st) return st.error();
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      auto key = device_of(st->blob(0));
      if (!key) return key.error();
      DeviceReport r;
      r.key = *key;
      if (!st->is_null(1)) r.label = st->text(1);
      r.first_day = st->int64(2);
      r.last_day = st->int64(3);
      if (!st->is_null(4)) r.lost_after = static_cast<uint64_t>(st->int64(4));
      if (!st->is_null(5)) {
        const std::string how = st->text(5);
        r.registration = how == "invite" ? Registration::kInvite : Registration::kInPerson;
      }
      if (!st->is_null(6)) {
        auto join = join_of(*st, 6);
        if (!join) return join.error();
        r.invite = std::move(join.value());
      }
      index[key->x25519] = out.size();
      out.push_back(std::move(r));
    }
  }
  {
    auto st = db.prepare(
        "SELECT device_key FROM coord_invite_disputes UNION SELECT i.device_key FROM "
        "coord_device_invites i JOIN coord_invite_disputes d ON d.invite_id = i.invite_id");
    if (!st) return st.error();
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      auto key = device_of(st->blob(0));
      if (!key) return key.error();
      if (auto it = index.find(key->x25519); it != index.end())
        out[it->second].invite_disputed = true;
    }
  }
  auto st =
      db.prepare("SELECT device_key, sequence FROM coord_bundles ORDER BY device_key, sequence");
  if (!st) return st.error();
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    auto key = device_of(st->blob(0));
    if (!key) return key.error();
    auto it = index.find(key->x25519);
    if (it == index.end()) continue;  // cannot happen: a bundle's device is always recorded
    DeviceReport& r = out[it->second];
    const auto seq = static_cast<uint64_t>(st->int64(1));
    if (r.bundles == 0) {
      r.lowest = seq;
    } else if (seq > r.highest + 1) {
      // A lost device's gaps stop at its cut-off: what it sealed after that is not missing,
      // it is not trusted (and its bundles go to quarantine).
      const uint64_t last = r.lost_after ? std::min(seq - 1, *r.lost_after) : seq - 1;
      if (r.highest + 1 <= last) r.gaps.push_back({r.highest + 1, last});
    }
    r.highest = seq;
    r.bundles++;
  }
  return out;
}

Status register_device(client::Profile& profile, const DevicePublicKey& key,
                       const std::string& label, int64_t today) {
  if (label.empty() || label.size() > 64)
    return make_error(Errc::kInvalidArgument, "a device label is 1 to 64 bytes");
  auto tx = client::Transaction::begin(profile.db());
  if (!tx) return tx.error();
  {
    auto st = profile.db().prepare(
        "INSERT INTO coord_devices (device_key, label, first_day, last_day) "
        "VALUES (?1, ?2, ?3, ?3) ON CONFLICT (device_key) DO UPDATE SET label = ?2");
    if (!st) return st.error();
    st->bind_blob(1, ByteView(key.x25519.data(), 32)).bind(2, label).bind(3, today);
    SATCHEL_TRY(st->run());
  }
  {
    auto st = profile.db().prepare(
        "INSERT OR REPLACE INTO coord_registrations (device_key, how, invite_id) "
        "VALUES (?1, 'in person', NULL)");
    if (!st) return st.error();
    st->bind_blob(1, ByteView(key.x25519.data(), 32));
    SATCHEL_TRY(st->run());
  }
  return tx->commit();
}

Result<uint64_t> mark_device_lost(client::Profile& profile, const DevicePublicKey& key,
                                  uint64_t after_sequence, int64_t today) {
  auto st = profile.db().prepare(
      "INSERT INTO coord_devices (device_key, label, first_day, last_day, lost_after) "
      "VALUES (?1, NULL, ?2, ?2, ?3) ON CONFLICT (device_key) DO UPDATE SET lost_after = ?3");
  if (!st) return st.error();
  st->bind_blob(1, ByteView(key.x25519.data(), 32)).bind(2, today);
  st->bind(3, static_cast<int64_t>(after_sequence));
  SATCHEL_TRY(st->run());
  st->release();
  auto later = profile.db().prepare(
      "SELECT count(*) FROM coord_records r JOIN coord_bundles b ON b.bundle_id = r.bundle_id "
      "WHERE r.device_key = ?1 AND b.sequence > ?2");
  if (!later) return later.error();
  later->bind_blob(1, ByteView(key.x25519.data(), 32))
      .bind(2, static_cast<int64_t>(after_sequence));
  auto row = later->step();
  if (!row) return row.error();
  return static_cast<uint64_t>(later->int64(0));
}

Result<std::vector<QuarantineEntry>> quarantine_entries(client::Profile& profile) {
  auto st = profile.db().prepare(
      "SELECT quarantine_id, reason, device_key, received_day FROM coord_quarantine "
      "ORDER BY quarantine_id");
  if (!st) return st.error();
  std::vector<QuarantineEntry> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    QuarantineEntry e;
    e.id = st->int64(0);
    e.reason = st->text(1);
    if (!st->is_null(2)) {
      auto key = device_of(st->blob(2));
      if (!key) return key.error();
      e.sender = *key;
    }
    e.received_day = st->int64(3);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace satchel::coord
