#include "satchel/org/org_publication.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include "org/new_file.h"
#include "profile/disk_file.h"
#include "satchel/crypto/sha256.h"
#include "satchel/org/org_state.h"

namespace satchel::org {

namespace fs = std::filesystem;

namespace {

using client::Profile;
using client::ProfileKind;

constexpr const char* kRosterKind = "roster";
constexpr const char* kRegistrationKind = "registration";
constexpr const char* kFormsPublishedSetting = "org_forms_published";

// The last roster or registration signed.
struct HeldDocument {
  uint64_t version = 0;
  Hash32 digest{};
  std::string text;
  int64_t expires_at = 0;
};

// Everything a roster and a registration are made of, read once.
struct RosterState {
  OrgSettings settings;
  std::vector<OrgCoordinator> coordinators;
  std::vector<RosterRelay> relays;

  uint16_t slot_count() const {
    return settings.slots != 0 ? settings.slots : static_cast<uint16_t>(coordinators.size());
  }
  // SHA-256 over what the roster says, its version and times excluded.
  Hash32 roster_digest() const {
    WireWriter w;
    w.str16(settings.name);
    w.u16(slot_count());
    w.u16(static_cast<uint16_t>(coordinators.size()));
    for (const auto& c : coordinators) {
      w.str16(c.name);
      w.bytes(ByteView(c.key.x25519.data(), 32));
      w.bytes(ByteView(c.key.ed25519.data(), 32));
    }
    w.u16(static_cast<uint16_t>(relays.size()));
    for (const auto& r : relays) {
      w.str16(r.url);
      w.bytes(ByteView(r.spki_pin.data(), 32));
      w.bytes(ByteView(r.backup_pin.data(), 32));
    }
    return Sha256::digest(w.data());
  }
  // SHA-256 over what the registration says: k and the coordinators' relay keys.
  Hash32 registration_digest() const {
    WireWriter w;
    w.u16(settings.required_acks);
    w.u16(static_cast<uint16_t>(coordinators.size()));
    for (const auto& c : coordinators) w.bytes(ByteView(c.key.ed25519.data(), 32));
    return Sha256::digest(w.data());
  }
};

Result<RosterState> read_state(Profile& p) {
  RosterState s;
  auto settings = org::settings(p);
  if (!settings) return settings.error();
  s.settings = std::move(*settings);
  auto coordinators = org::coordinators(p);
  if (!coordinators) return coordinators.error();
  s.coordinators = std::move(*coordinators);
  auto relays = org::relays(p);
  if (!relays) return relays.error();
  s.relays = std::move(*relays);
  return s;
}

Result<std::optional<HeldDocument>> held_document(Profile& p, const char* kind) {
  auto st =
      p.db().prepare("SELECT version, digest, text, expires_at FROM org_documents WHERE kind = ?1");
  if (!st) return st.error();
  st->bind(1, std::string_view(kind));
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<HeldDocument>();
  HeldDocument d;
  d.version = static_cast<uint64_t>(st->int64(0));
  const ByteView digest = st->blob(1);
  if (digest.size() != d.digest.size())
    return make_error(Errc::kIoError, std::string("the last ") + kind + " signed is damaged");
  std::memcpy(d.digest.data(), digest.data(), digest.size());
  d.text = st->text(2);
  d.expires_at = st->is_null(3) ? 0 : st->int64(3);
  return std::optional<HeldDocument>(std::move(d));
}

Status record_document(Profile& p, const char* kind, const SignedDocument& doc,
                       const Hash32& digest, bool expires) {
  auto st = p.db().prepare(
      "INSERT OR REPLACE INTO org_documents (kind, version, digest, text, expires_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!st) return st.error();
  st->bind(1, std::string_view(kind))
      .bind(2, static_cast<int64_t>(doc.version))
      .bind_blob(3, ByteView(digest.data(), digest.size()))
      .bind(4, doc.text);
  if (expires)
    st->bind(5, doc.expires_at);
  else
    st->bind_null(5);
  return st->run();
}

Result<uint64_t> forms_published(Profile& p) {
  auto v = p.setting(kFormsPublishedSetting);
  if (!v) return v.error();
  if (!*v) return uint64_t{0};
  uint64_t n = 0;
  for (char c : **v) {
    if (c < '0' || c > '9' || n > UINT64_MAX / 10 - 1)
      return make_error(Errc::kIoError,
                        "the organisation profile's form publication mark is damaged");
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

Result<uint64_t> last_form_number(Profile& p) {
  auto st = p.db().prepare("SELECT coalesce(max(number), 0) FROM org_forms");
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  return static_cast<uint64_t>(st->int64(0));
}

// Refuses a state no roster or registration can be made of, saying how to fix it.
Status check_publishable(const RosterState& s) {
  const size_t n = s.coordinators.size();
  if (n == 0)
    return make_error(Errc::kInvalidArgument,
                      "the roster lists no coordinator: add one first (satchel org coordinator "
                      "add NAME COORDPUB --confirm FINGERPRINT)");
  if (s.relays.empty())
    return make_error(Errc::kInvalidArgument,
                      "the roster lists no relay: add one first (satchel org relay add URL --pin "
                      "HEX --backup-pin HEX)");
  if (s.settings.slots != 0 && s.settings.slots < n)
    return make_error(Errc::kInvalidArgument,
                      "the roster has " + std::to_string(s.settings.slots) + " slots for " +
                          std::to_string(n) +
                          " coordinators: raise them (satchel org set --slots)");
  if (s.settings.required_acks > n)
    return make_error(Errc::kInvalidArgument,
                      "--required-acks " + std::to_string(s.settings.required_acks) +
                          " is more than the " + std::to_string(n) +
                          " coordinators listed: lower it (satchel org set --required-acks)");
  return Status::Ok();
}

Result<SignedDocument> sign_roster(const RosterState& s, const OrgSecretKey& key, uint64_t version,
                                   int64_t now) {
  Roster r;
  r.org = key.public_key();
  r.version = version;
  r.issued_at = now;
  r.expires_at = now + int64_t{86400} * s.settings.valid_days;
  r.org_name = s.settings.name;
  r.slot_count = s.slot_count();
  for (const auto& c : s.coordinators) r.coordinators.push_back({c.name, c.key});
  r.relays = s.relays;
  auto text = r.sign(key);
  if (!text) return text.error();
  return SignedDocument{version, std::move(*text), true, r.expires_at};
}

Result<SignedDocument> sign_registration(const RosterState& s, const OrgSecretKey& key,
                                         uint64_t version, int64_t now) {
  RelayRegistration reg;
  reg.org = key.public_key();
  reg.version = version;
  reg.issued_at = now;
  reg.required_acks = s.settings.required_acks;
  for (const auto& c : s.coordinators) reg.coordinator_auth_keys.push_back(c.key.ed25519);
  auto text = reg.sign(key);
  if (!text) return text.error();
  return SignedDocument{version, std::move(*text), true, 0};
}

SignedDocument held_as_signed(const HeldDocument& h) {
  return SignedDocument{h.version, h.text, false, h.expires_at};
}

}  // namespace

Result<PendingChanges> pending_changes(Profile& p, int64_t now) {
  SATCHEL_TRY(p.require_kind(ProfileKind::kOrganisation));
  auto state = read_state(p);
  if (!state) return state.error();
  auto roster = held_document(p, kRosterKind);
  if (!roster) return roster.error();
  auto registration = held_document(p, kRegistrationKind);
  if (!registration) return registration.error();
  auto published = forms_published(p);
  if (!published) return published.error();
  auto last = last_form_number(p);
  if (!last) return last.error();
  PendingChanges c;
  c.no_roster = !*roster;
  c.roster = *roster && (*roster)->digest != state->roster_digest();
  c.roster_expired = *roster && now >= (*roster)->expires_at;
  c.no_registration = !*registration;
  c.registration = *registration && (*registration)->digest != state->registration_digest();
  c.forms = *last > *published ? *last - *published : 0;
  return c;
}

std::string describe(const PendingChanges& c) {
  std::string out;
  auto add = [&out](const std::string& what) { out += (out.empty() ? "" : ", ") + what; };
  if (c.no_roster && c.no_registration)
    add("nothing was published yet");
  else if (c.no_roster)
    add("no roster was published yet");
  else if (c.no_registration)
    add("no relay registration was published yet");
  if (c.roster) add("the roster changed");
  if (c.roster_expired) add("the roster published has expired");
  if (c.registration) add("the relay registration changed");
  if (c.forms) add(std::to_string(c.forms) + " form package(s) were added");
  return out;
}

Result<LastPublication> last_publication(Profile& p) {
  SATCHEL_TRY(p.require_kind(ProfileKind::kOrganisation));
  LastPublication out;
  auto roster = held_document(p, kRosterKind);
  if (!roster) return roster.error();
  if (*roster) {
    out.roster_version = (*roster)->version;
    out.roster_expires_at = (*roster)->expires_at;
  }
  auto registration = held_document(p, kRegistrationKind);
  if (!registration) return registration.error();
  if (*registration) out.registration_version = (*registration)->version;
  auto published = forms_published(p);
  if (!published) return published.error();
  out.forms_published = *published;
  return out;
}

Result<Publication> prepare_publication(Profile& p, int64_t now, bool renew) {
  SATCHEL_TRY(p.require_kind(ProfileKind::kOrganisation));
  auto key = p.organisation_key();
  if (!key) return key.error();
  auto tx = client::Transaction::begin(p.db());
  if (!tx) return tx.error();
  auto state = read_state(p);
  if (!state) return state.error();
  SATCHEL_TRY(check_publishable(*state));
  Publication out;

  auto roster = held_document(p, kRosterKind);
  if (!roster) return roster.error();
  const Hash32 roster_digest = state->roster_digest();
  if (!*roster)
    out.roster_reason = RosterReason::kFirst;
  else if ((*roster)->digest != roster_digest)
    out.roster_reason = RosterReason::kChanged;
  else if (now >= (*roster)->expires_at)
    out.roster_reason = RosterReason::kExpired;
  else if (renew)
    out.roster_reason = RosterReason::kRenewed;
  if (out.roster_reason == RosterReason::kUnchanged) {
    out.roster = held_as_signed(**roster);
  } else {
    const uint64_t version = *roster ? (*roster)->version + 1 : state->settings.first_version;
    auto signed_roster = sign_roster(*state, *key, version, now);
    if (!signed_roster) return signed_roster.error();
    out.roster = std::move(*signed_roster);
    SATCHEL_TRY(record_document(p, kRosterKind, out.roster, roster_digest, true));
  }

  auto registration = held_document(p, kRegistrationKind);
  if (!registration) return registration.error();
  const Hash32 registration_digest = state->registration_digest();
  if (*registration && (*registration)->digest == registration_digest) {
    out.registration = held_as_signed(**registration);
  } else {
    const uint64_t version =
        *registration ? (*registration)->version + 1 : state->settings.first_version;
    auto signed_registration = sign_registration(*state, *key, version, now);
    if (!signed_registration) return signed_registration.error();
    out.registration = std::move(*signed_registration);
    SATCHEL_TRY(
        record_document(p, kRegistrationKind, out.registration, registration_digest, false));
  }

  auto forms = org::forms(p);
  if (!forms) return forms.error();
  out.forms = std::move(*forms);
  const uint64_t last = out.forms.empty() ? 0 : out.forms.back().number;
  SATCHEL_TRY(p.set_setting(kFormsPublishedSetting, std::to_string(last)));
  SATCHEL_TRY(tx->commit());
  return out;
}

Status check_publication_dir(const std::string& dir) {
  std::error_code ec;
  const auto status = fs::symlink_status(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory)
    return make_error(Errc::kIoError, "cannot look at " + dir + ": " + ec.message());
  if (!fs::exists(status)) return Status::Ok();
  if (!fs::is_directory(status))
    return make_error(Errc::kAlreadyExists, dir + " exists and is not a folder: give a new one");
  if (!fs::is_empty(dir, ec) || ec)
    return make_error(Errc::kAlreadyExists,
                      dir + " is not empty: give a new or empty folder (nothing is overwritten)");
  return Status::Ok();
}

std::string form_file_name(uint64_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "%06llu.form", static_cast<unsigned long long>(number));
  return name;
}

Status write_publication(const Publication& pub, const std::string& dir) {
  SATCHEL_TRY(check_publication_dir(dir));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return make_error(Errc::kIoError, "cannot create " + dir + ": " + std::strerror(errno));
  SATCHEL_TRY(write_new_file(dir + "/roster.txt", as_bytes(pub.roster.text)));
  SATCHEL_TRY(write_new_file(dir + "/registration.txt", as_bytes(pub.registration.text)));
  if (!pub.forms.empty()) {
    const std::string forms = dir + "/forms";
    if (::mkdir(forms.c_str(), 0700) != 0)
      return make_error(Errc::kIoError, "cannot create " + forms + ": " + std::strerror(errno));
    for (const auto& f : pub.forms)
      SATCHEL_TRY(write_new_file(forms + "/" + form_file_name(f.number), as_bytes(f.package)));
  }
  SATCHEL_TRY(client::sync_directory(dir));
  const std::string parent = fs::path(dir).parent_path().string();
  return client::sync_directory(parent.empty() ? "." : parent);
}

}  // namespace satchel::org
