#include "satchel/org/org_state.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace satchel::org {

namespace {

using client::Profile;
using client::ProfileKind;

constexpr size_t kMaxCoordinators = 64;  // a roster's limit
constexpr size_t kMaxRelays = 8;

// The roster's text rule (schema/trust-documents.md, "Text rule"): 1..max bytes, no control
// byte, well-formed UTF-8 structure. The roster's signing checks it again.
bool text_rule(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return false;
    const size_t n = c < 0x80             ? 1
                     : (c & 0xE0) == 0xC0 ? 2
                     : (c & 0xF0) == 0xE0 ? 3
                     : (c & 0xF8) == 0xF0 ? 4
                                          : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; k++)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

Status put_secret(Profile& p, const char* name, const SecretBytes& value) {
  auto st = p.db().prepare("INSERT INTO settings (name, value) VALUES (?1, ?2)");
  if (!st) return st.error();
  st->bind(1, std::string_view(name)).bind_blob(2, value.span());
  return st->run();
}

Result<SecretBytes> get_secret(Profile& p, const char* name) {
  SATCHEL_TRY(p.require_kind(ProfileKind::kOrganisation));
  auto st = p.db().prepare("SELECT value FROM settings WHERE name = ?1");
  if (!st) return st.error();
  st->bind(1, std::string_view(name));
  auto row = st->step();
  if (!row) return row.error();
  if (!*row || st->blob(0).size() != 32)
    return make_error(Errc::kIoError, std::string("the organisation profile has no ") + name +
                                          " (damaged profile)");
  SecretBytes out(32);
  std::memcpy(out.data(), st->blob(0).data(), 32);
  return out;
}

Status store_settings(Profile& p, const OrgSettings& s) {
  SATCHEL_TRY(p.set_setting("org_name", s.name));
  SATCHEL_TRY(p.set_setting("org_valid_days", std::to_string(s.valid_days)));
  SATCHEL_TRY(p.set_setting("org_slots", std::to_string(s.slots)));
  SATCHEL_TRY(p.set_setting("org_required_acks", std::to_string(s.required_acks)));
  return p.set_setting("org_first_version", std::to_string(s.first_version));
}

Result<uint64_t> number_setting(Profile& p, const char* name) {
  auto v = p.setting(name);
  if (!v) return v.error();
  if (!*v || (*v)->empty() || (*v)->size() > 19 ||
      !std::all_of((*v)->begin(), (*v)->end(), [](char c) { return c >= '0' && c <= '9'; }))
    return make_error(Errc::kIoError,
                      std::string("the organisation profile's ") + name + " is missing or damaged");
  return static_cast<uint64_t>(std::stoull(**v));
}

Result<int64_t> count_rows(Profile& p, const char* sql) {
  auto st = p.db().prepare(sql);
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  return *row ? st->int64(0) : 0;
}

// A stored 32-byte key column.
Result<Key32> key_of(ByteView b, const char* what) {
  if (b.size() != 32)
    return make_error(Errc::kIoError, std::string("a stored ") + what + " is damaged");
  Key32 k{};
  std::memcpy(k.data(), b.data(), 32);
  return k;
}

}  // namespace

Status check_settings(const OrgSettings& s) {
  if (!text_rule(s.name, 64))
    return make_error(Errc::kInvalidArgument,
                      "the organisation name must be 1 to 64 bytes of UTF-8 without control "
                      "characters");
  if (s.valid_days < 1 || s.valid_days > 3650)
    return make_error(Errc::kInvalidArgument, "--valid-days must be from 1 to 3650");
  if (s.slots > 64)
    return make_error(Errc::kInvalidArgument,
                      "--slots must be at most 64 (0: one per coordinator)");
  if (s.required_acks > 64)
    return make_error(Errc::kInvalidArgument, "--required-acks must be from 0 (all) to 64");
  if (s.first_version < 1 || s.first_version > (uint64_t{1} << 62))
    return make_error(Errc::kInvalidArgument, "the first roster version must be from 1 to 2^62");
  return Status::Ok();
}

Status initialise(Profile& p, const OrgSettings& s) {
  SATCHEL_TRY(check_settings(s));
  SATCHEL_TRY(p.require_kind(ProfileKind::kOrganisation));
  SATCHEL_TRY(store_settings(p, s));
  SecretBytes enrollment(32), publication(32);
  randombytes_buf(enrollment.data(), enrollment.size());
  randombytes_buf(publication.data(), publication.size());
  SATCHEL_TRY(put_secret(p, "org_enrollment_secret", enrollment));
  return put_secret(p, "org_publication_key", publication);
}

Result<OrgSettings> settings(Profile& p) {
  SATCHEL_TRY(p.require_kind(ProfileKind::kOrganisation));
  OrgSettings s;
  auto name = p.setting("org_name");
  if (!name) return name.error();
  if (!*name) return make_error(Errc::kIoError, "the organisation profile has no name (damaged)");
  s.name = **name;
  auto days = number_setting(p, "org_valid_days");
  if (!days) return days.error();
  auto slots = number_setting(p, "org_slots");
  if (!slots) return slots.error();
  auto acks = number_setting(p, "org_required_acks");
  if (!acks) return acks.error();
  auto first = number_setting(p, "org_first_version");
  if (!first) return first.error();
  s.valid_days = static_cast<uint32_t>(std::min<uint64_t>(*days, UINT32_MAX));
  s.slots = static_cast<uint16_t>(std::min<uint64_t>(*slots, UINT16_MAX));
  s.required_acks = static_cast<uint16_t>(std::min<uint64_t>(*acks, UINT16_MAX));
  s.first_version = *first;
  SATCHEL_TRY(check_settings(s));
  return s;
}

Status set_settings(Profile& p, const OrgSettings& wanted) {
  auto held = settings(p);
  if (!held) return held.error();
  OrgSettings s = wanted;
  s.first_version = held->first_version;
  SATCHEL_TRY(check_settings(s));
  auto n = count_rows(p, "SELECT count(*) FROM org_coordinators");
  if (!n) return n.error();
  if (s.slots != 0 && s.slots < *n)
    return make_error(Errc::kInvalidArgument, "--slots " + std::to_string(s.slots) +
                                                  " is fewer than the " + std::to_string(*n) +
                                                  " coordinators listed");
  auto tx = client::Transaction::begin(p.db());
  if (!tx) return tx.error();
  SATCHEL_TRY(store_settings(p, s));
  return tx->commit();
}

Result<SecretBytes> enrollment_secret(Profile& p) {
  return get_secret(p, "org_enrollment_secret");
}

Result<SecretBytes> publication_key(Profile& p) {
  return get_secret(p, "org_publication_key");
}

bool fingerprint_confirms(std::string_view typed, std::string_view fingerprint) {
  auto squeeze = [](std::string_view s) {
    std::string out;
    for (char c : s)
      if (c != '-' && c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f')
        out += c;
    return out;
  };
  const std::string got = squeeze(typed), want = squeeze(fingerprint);
  return !want.empty() && got.size() == want.size() &&
         sodium_memcmp(got.data(), want.data(), want.size()) == 0;
}

Result<std::vector<OrgCoordinator>> coordinators(Profile& p) {
  SATCHEL_TRY(p.require_kind(ProfileKind::kOrganisation));
  auto st =
      p.db().prepare("SELECT name, x25519, ed25519 FROM org_coordinators ORDER BY coordinator_id");
  if (!st) return st.error();
  std::vector<OrgCoordinator> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    auto x = key_of(st->blob(1), "coordinator key");
    if (!x) return x.error();
    auto e = key_of(st->blob(2), "coordinator key");
    if (!e) return e.error();
    OrgCoordinator c;
    c.name = st->text(0);
    c.key.x25519 = *x;
    c.key.ed25519 = *e;
    out.push_back(std::move(c));
  }
  return out;
}

Status add_coordinator(Profile& p, const OrgCoordinator& c, std::string_view typed) {
  if (!fingerprint_confirms(typed, c.key.fingerprint()))
    return make_error(Errc::kDocNotConfirmed,
                      "the fingerprint given does not match this coordinator key: it was NOT "
                      "added. Compare the full fingerprint with the coordinator (satchel coord "
                      "whoami) in person or by phone");
  if (!text_rule(c.name, 64))
    return make_error(Errc::kInvalidArgument,
                      "a coordinator name must be 1 to 64 bytes of UTF-8 without control "
                      "characters");
  auto s = settings(p);
  if (!s) return s.error();
  auto held = coordinators(p);
  if (!held) return held.error();
  for (const auto& h : *held) {
    if (h.name == c.name)
      return make_error(Errc::kAlreadyExists, "a coordinator named " + c.name + " is listed");
    if (h.key.x25519 == c.key.x25519 || h.key.ed25519 == c.key.ed25519)
      return make_error(Errc::kAlreadyExists, "this key is listed already, as " + h.name);
  }
  if (held->size() >= kMaxCoordinators)
    return make_error(Errc::kInvalidArgument, "a roster lists at most 64 coordinators");
  if (s->slots != 0 && held->size() >= s->slots)
    return make_error(Errc::kInvalidArgument,
                      "the roster's " + std::to_string(s->slots) +
                          " slots are taken: raise them first (satchel org set --slots N)");
  auto st =
      p.db().prepare("INSERT INTO org_coordinators (name, x25519, ed25519) VALUES (?1, ?2, ?3)");
  if (!st) return st.error();
  st->bind(1, c.name)
      .bind_blob(2, ByteView(c.key.x25519.data(), 32))
      .bind_blob(3, ByteView(c.key.ed25519.data(), 32));
  return st->run();
}

Status remove_coordinator(Profile& p, const std::string& name) {
  SATCHEL_TRY(p.require_kind(ProfileKind::kOrganisation));
  auto st = p.db().prepare("DELETE FROM org_coordinators WHERE name = ?1");
  if (!st) return st.error();
  st->bind(1, name);
  SATCHEL_TRY(st->run());
  if (p.db().changes() == 0)
    return make_error(Errc::kNotFound,
                      "no coordinator is named " + name + " (org show lists them)");
  return Status::Ok();
}

Result<std::vector<RosterRelay>> relays(Profile& p) {
  SATCHEL_TRY(p.require_kind(ProfileKind::kOrganisation));
  auto st = p.db().prepare("SELECT url, spki_pin, backup_pin FROM org_relays ORDER BY relay_id");
  if (!st) return st.error();
  std::vector<RosterRelay> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    auto pin = key_of(st->blob(1), "relay pin");
    if (!pin) return pin.error();
    auto backup = key_of(st->blob(2), "relay pin");
    if (!backup) return backup.error();
    out.push_back({st->text(0), *pin, *backup});
  }
  return out;
}

namespace {

Status check_pins(const RosterRelay& r) {
  const Hash32 zero{};
  if (r.spki_pin == zero || r.backup_pin == zero)
    return make_error(Errc::kInvalidArgument, "a pin of all zeros is not a pin");
  if (r.spki_pin == r.backup_pin)
    return make_error(Errc::kInvalidArgument,
                      "--pin and --backup-pin are the same: the backup pin is another key's");
  return Status::Ok();
}

}  // namespace

Status add_relay(Profile& p, const RosterRelay& r) {
  if (!text_rule(r.url, 256) || r.url.rfind("https://", 0) != 0 ||
      r.url.find(' ') != std::string::npos)
    return make_error(Errc::kInvalidArgument,
                      "a relay URL must start with https://, be at most 256 bytes and hold no "
                      "space or control character");
  SATCHEL_TRY(check_pins(r));
  auto held = relays(p);
  if (!held) return held.error();
  for (const auto& h : *held)
    if (h.url == r.url)
      return make_error(Errc::kAlreadyExists, "the relay " + r.url + " is listed");
  if (held->size() >= kMaxRelays)
    return make_error(Errc::kInvalidArgument, "a roster lists at most 8 relays");
  auto st =
      p.db().prepare("INSERT INTO org_relays (url, spki_pin, backup_pin) VALUES (?1, ?2, ?3)");
  if (!st) return st.error();
  st->bind(1, r.url)
      .bind_blob(2, ByteView(r.spki_pin.data(), 32))
      .bind_blob(3, ByteView(r.backup_pin.data(), 32));
  return st->run();
}

Status remove_relay(Profile& p, const std::string& url) {
  SATCHEL_TRY(p.require_kind(ProfileKind::kOrganisation));
  auto st = p.db().prepare("DELETE FROM org_relays WHERE url = ?1");
  if (!st) return st.error();
  st->bind(1, url);
  SATCHEL_TRY(st->run());
  if (p.db().changes() == 0)
    return make_error(Errc::kNotFound, "no relay has the URL " + url + " (org show lists them)");
  return Status::Ok();
}

Status set_relay_pins(Profile& p, const RosterRelay& r, bool unrelated) {
  SATCHEL_TRY(check_pins(r));
  auto held = relays(p);
  if (!held) return held.error();
  auto it = std::find_if(held->begin(), held->end(),
                         [&](const RosterRelay& h) { return h.url == r.url; });
  if (it == held->end())
    return make_error(Errc::kNotFound, "no relay has the URL " + r.url + " (org show lists them)");
  if (!unrelated && r.spki_pin != it->spki_pin && r.spki_pin != it->backup_pin)
    return make_error(Errc::kInvalidArgument,
                      "--pin is neither the relay's pin nor its backup pin in the roster held: "
                      "devices holding that roster could not reach the relay once it serves "
                      "this key (after `satchel-relay tls rotate`, --pin is the old backup pin; "
                      "--unrelated if both keys were lost)");
  auto st = p.db().prepare("UPDATE org_relays SET spki_pin = ?1, backup_pin = ?2 WHERE url = ?3");
  if (!st) return st.error();
  st->bind_blob(1, ByteView(r.spki_pin.data(), 32))
      .bind_blob(2, ByteView(r.backup_pin.data(), 32))
      .bind(3, r.url);
  return st->run();
}

Result<Hash32> parse_pin(std::string_view hex, const std::string& what) {
  auto b = from_hex(hex);
  if (!b || b->size() != 32)
    return make_error(Errc::kInvalidArgument,
                      what + " must be 64 hex digits (SHA-256 of the SPKI)");
  Hash32 h{};
  std::copy(b->begin(), b->end(), h.begin());
  return h;
}

}  // namespace satchel::org
