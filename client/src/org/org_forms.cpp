#include "satchel/org/org_forms.h"

#include <cstring>

#include "satchel/crypto/sha256.h"
#include "satchel/form/form.h"

namespace satchel::org {

namespace {

using client::Profile;
using client::ProfileKind;

Result<OrgForm> form_of(const client::Statement& st) {
  OrgForm f;
  f.number = static_cast<uint64_t>(st.int64(0));
  f.form_id = st.text(1);
  f.version = static_cast<uint64_t>(st.int64(2));
  const ByteView hash = st.blob(3);
  if (hash.size() != f.content_hash.size())
    return make_error(Errc::kIoError, "the stored hash of form " + f.form_id + " is damaged");
  std::memcpy(f.content_hash.data(), hash.data(), hash.size());
  f.package = st.text(4);
  return f;
}

}  // namespace

Result<OrgForm> add_form(Profile& p, std::string_view json, const std::string& source_name,
                         int64_t now) {
  SATCHEL_TRY(p.require_kind(ProfileKind::kOrganisation));
  auto parsed = form::parse_form(json, source_name);
  if (!parsed) return parsed.error();
  auto key = p.organisation_key();
  if (!key) return key.error();
  auto held = latest_form(p, parsed->id);
  if (!held) return held.error();
  if (*held && (*held)->version >= parsed->version)
    return make_error(Errc::kDocRollback, source_name + ": form " + parsed->id + " version " +
                                              std::to_string(parsed->version) +
                                              " is not newer than version " +
                                              std::to_string((*held)->version) +
                                              " held: raise \"version\" in the form for a new one");
  auto package = FormEnvelope::sign_package(*key, parsed->id, parsed->version, as_bytes(json), now);
  if (!package) return make_error(package.code(), source_name + ": " + package.error().message);
  OrgForm f;
  f.form_id = parsed->id;
  f.version = parsed->version;
  f.content_hash = Sha256::digest(as_bytes(json));
  f.package = std::move(*package);
  auto tx = client::Transaction::begin(p.db());
  if (!tx) return tx.error();
  {
    auto next = p.db().prepare("SELECT coalesce(max(number), 0) + 1 FROM org_forms");
    if (!next) return next.error();
    auto row = next->step();
    if (!row) return row.error();
    f.number = static_cast<uint64_t>(next->int64(0));
  }
  auto st = p.db().prepare(
      "INSERT INTO org_forms (number, form_id, version, content_hash, package) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!st) return st.error();
  st->bind(1, static_cast<int64_t>(f.number))
      .bind(2, f.form_id)
      .bind(3, static_cast<int64_t>(f.version))
      .bind_blob(4, ByteView(f.content_hash.data(), f.content_hash.size()))
      .bind(5, f.package);
  SATCHEL_TRY(st->run());
  SATCHEL_TRY(tx->commit());
  return f;
}

Result<std::vector<OrgForm>> forms(Profile& p) {
  SATCHEL_TRY(p.require_kind(ProfileKind::kOrganisation));
  auto st = p.db().prepare(
      "SELECT number, form_id, version, content_hash, package FROM org_forms ORDER BY number");
  if (!st) return st.error();
  std::vector<OrgForm> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    auto f = form_of(*st);
    if (!f) return f.error();
    out.push_back(std::move(*f));
  }
  return out;
}

Result<std::optional<OrgForm>> latest_form(Profile& p, const std::string& form_id) {
  SATCHEL_TRY(p.require_kind(ProfileKind::kOrganisation));
  auto st = p.db().prepare(
      "SELECT number, form_id, version, content_hash, package FROM org_forms "
      "WHERE form_id = ?1 ORDER BY version DESC LIMIT 1");
  if (!st) return st.error();
  st->bind(1, form_id);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<OrgForm>();
  auto f = form_of(*st);
  if (!f) return f.error();
  return std::optional<OrgForm>(std::move(*f));
}

}  // namespace satchel::org
