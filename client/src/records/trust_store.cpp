#include "satchel/client/trust_store.h"

namespace satchel::client {

Result<std::optional<OrgPublicKey>> TrustStore::organisation() {
  auto text = profile_.setting("org_public_key");
  if (!text) return text.error();
  if (!*text) return std::optional<OrgPublicKey>();
  auto key = OrgPublicKey::from_text(**text);
  if (!key) return key.error();
  return std::optional<OrgPublicKey>(*key);
}

Result<OrgPublicKey> TrustStore::require_organisation() {
  auto org = organisation();
  if (!org) return org.error();
  if (!*org)
    return make_error(Errc::kNotFound, "no organisation is trusted yet (satchel trust org PUBKEY)");
  return **org;
}

Status TrustStore::trust_organisation(const OrgPublicKey& org) {
  auto held = organisation();
  if (!held) return held.error();
  if (*held && !(**held == org))
    return make_error(Errc::kAlreadyExists,
                      "this profile already trusts another organisation (fingerprint " +
                          (*held)->fingerprint() +
                          "); create a new profile for a new organisation");
  return profile_.set_setting("org_public_key", org.to_text());
}

Result<std::optional<Roster>> TrustStore::roster(int64_t now) {
  auto text = profile_.setting("roster");
  if (!text) return text.error();
  if (!*text) return std::optional<Roster>();
  auto org = require_organisation();
  if (!org) return org.error();
  auto r = Roster::verify(**text, *org, now);
  if (!r) return r.error();
  return std::optional<Roster>(std::move(r.value()));
}

Result<Roster> TrustStore::add_roster(std::string_view text, int64_t now) {
  auto org = require_organisation();
  if (!org) return org.error();
  auto incoming = Roster::verify(text, *org, now);
  if (!incoming) return incoming.error();
  // The held roster may have expired; it still counts for rollback protection.
  std::optional<Roster> held;
  if (auto held_text = profile_.setting("roster"); !held_text) {
    return held_text.error();
  } else if (*held_text) {
    auto h = Roster::verify(**held_text, *org, INT64_MIN);
    if (!h) return h.error();
    held = std::move(h.value());
  }
  SATCHEL_TRY(check_roster_update(held, *incoming));
  std::string stored(text);
  while (!stored.empty() && (stored.back() == '\n' || stored.back() == ' ')) stored.pop_back();
  SATCHEL_TRY(profile_.set_setting("roster", stored));
  if (held) SATCHEL_TRY(remember_coordinators(*held));
  SATCHEL_TRY(remember_coordinators(*incoming));
  return incoming;
}

Status TrustStore::remember_coordinators(const Roster& roster) {
  auto kind = profile_.kind();
  if (!kind) return kind.error();
  if (*kind != ProfileKind::kCoordinator) return Status::Ok();
  for (const RosterCoordinator& c : roster.coordinators) {
    auto st = profile_.db().prepare(
        "INSERT INTO coord_known_coordinators (relay_key, name, last_version) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (relay_key) DO UPDATE SET name = excluded.name, last_version = "
        "excluded.last_version WHERE excluded.last_version > last_version");
    if (!st) return st.error();
    st->bind_blob(1, ByteView(c.key.ed25519.data(), c.key.ed25519.size()))
        .bind(2, c.name)
        .bind(3, static_cast<int64_t>(roster.version));
    SATCHEL_TRY(st->run());
  }
  return Status::Ok();
}

Result<std::optional<std::string>> TrustStore::known_coordinator(const Key32& relay_key) {
  auto st = profile_.db().prepare("SELECT name FROM coord_known_coordinators WHERE relay_key = ?1");
  if (!st) return st.error();
  st->bind_blob(1, ByteView(relay_key.data(), relay_key.size()));
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(st->text(0));
}

Result<form::Form> TrustStore::add_form(std::string_view package_text,
                                        const std::string& source_name) {
  auto org = require_organisation();
  if (!org) return org.error();
  auto pkg = FormEnvelope::verify_package(package_text, *org);
  if (!pkg) return make_error(pkg.error().code, source_name + ": " + pkg.error().message);
  const FormEnvelope& env = pkg->first;
  std::string content(pkg->second.begin(), pkg->second.end());
  auto parsed = form::parse_form(content, source_name);
  if (!parsed) return parsed.error();
  if (parsed->id != env.form_id || parsed->version != env.form_version)
    return make_error(Errc::kDocInvalidField,
                      source_name + ": the form's id/version (" + parsed->id + " v" +
                          std::to_string(parsed->version) +
                          ") differ from the signed envelope's (" + env.form_id + " v" +
                          std::to_string(env.form_version) + ")");
  auto st = profile_.db().prepare("SELECT max(version) FROM forms WHERE form_id = ?1");
  if (!st) return st.error();
  st->bind(1, env.form_id);
  auto row = st->step();
  if (!row) return row.error();
  std::optional<uint64_t> held;
  if (*row && !st->is_null(0)) held = static_cast<uint64_t>(st->int64(0));
  st->release();
  auto kind = profile_.kind();
  if (!kind) return kind.error();
  if (*kind == ProfileKind::kCoordinator) {
    // A coordinator needs every version its devices may still use, older ones included: only
    // a version already held is refused. Rollback protection is the devices' concern.
    auto same = profile_.db().prepare("SELECT 1 FROM forms WHERE form_id = ?1 AND version = ?2");
    if (!same) return same.error();
    same->bind(1, env.form_id).bind(2, static_cast<int64_t>(env.form_version));
    auto dup = same->step();
    if (!dup) return dup.error();
    if (*dup)
      return make_error(Errc::kAlreadyExists, source_name + ": form " + env.form_id + " version " +
                                                  std::to_string(env.form_version) +
                                                  " is already held");
  } else {
    Status s = check_form_update(held, env);
    if (!s) return make_error(s.error().code, source_name + ": " + s.error().message);
  }
  auto ins = profile_.db().prepare(
      "INSERT INTO forms (form_id, version, content, package) VALUES (?1, ?2, ?3, ?4)");
  if (!ins) return ins.error();
  std::string pkg_text(package_text);
  while (!pkg_text.empty() && (pkg_text.back() == '\n' || pkg_text.back() == ' '))
    pkg_text.pop_back();
  ins->bind(1, env.form_id)
      .bind(2, static_cast<int64_t>(env.form_version))
      .bind(3, content)
      .bind(4, pkg_text);
  SATCHEL_TRY(ins->run());
  return parsed;
}

Result<std::vector<StoredForm>> TrustStore::latest_forms() {
  auto st = profile_.db().prepare(
      "SELECT form_id, version, content FROM forms f WHERE version = "
      "(SELECT max(version) FROM forms g WHERE g.form_id = f.form_id) ORDER BY form_id");
  if (!st) return st.error();
  std::vector<StoredForm> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({st->text(0), static_cast<uint64_t>(st->int64(1)), st->text(2)});
  }
  return out;
}

Result<form::Form> TrustStore::form(const std::string& form_id, std::optional<uint64_t> version) {
  auto st =
      version
          ? profile_.db().prepare("SELECT content FROM forms WHERE form_id = ?1 AND version = ?2")
          : profile_.db().prepare(
                "SELECT content FROM forms WHERE form_id = ?1 ORDER BY version DESC LIMIT 1");
  if (!st) return st.error();
  st->bind(1, form_id);
  if (version) st->bind(2, static_cast<int64_t>(*version));
  auto row = st->step();
  if (!row) return row.error();
  if (!*row)
    return make_error(Errc::kNotFound,
                      "no form " + form_id +
                          (version ? " version " + std::to_string(*version) : "") +
                          " (satchel form list shows the forms; satchel form add FILE adds one)");
  return form::parse_form(st->text(0), "form " + form_id);
}

}  // namespace satchel::client
