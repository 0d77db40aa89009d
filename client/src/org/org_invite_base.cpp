#include "satchel/org/org_invite_base.h"

#include <set>

#include "org/new_file.h"
#include "satchel/org/org_forms.h"
#include "satchel/org/org_publication.h"
#include "satchel/org/org_state.h"

namespace satchel::org {

Result<SignedInviteBaseText> make_invite_base(client::Profile& p, const InviteBaseRequest& r) {
  SATCHEL_TRY(p.require_kind(client::ProfileKind::kOrganisation));
  if (r.valid_days < 1 || r.valid_days > 3650)
    return make_error(Errc::kInvalidArgument, "--valid-days must be from 1 to 3650");
  if (r.form_ids.size() > 32)
    return make_error(Errc::kInvalidArgument, "an invite base names at most 32 forms");
  auto pending = pending_changes(p, r.now);
  if (!pending) return pending.error();
  if (pending->any())
    return make_error(Errc::kInvalidArgument,
                      "unpublished changes (" + describe(*pending) +
                          "): run `satchel org publish -o DIR` first, and have a coordinator "
                          "publish DIR, so that devices find what the invite names");
  auto key = p.organisation_key();
  if (!key) return key.error();
  InviteBase base;
  base.org = key->public_key();
  {
    auto st =
        p.db().prepare("SELECT text, version, expires_at FROM org_documents WHERE kind = 'roster'");
    if (!st) return st.error();
    auto row = st->step();
    if (!row) return row.error();
    if (!*row)
      return make_error(Errc::kNotFound, "no roster published yet: run `satchel org publish`");
    base.roster_text = st->text(0);
  }
  auto roster = Roster::verify(base.roster_text, base.org, r.now);
  if (!roster) return roster.error();
  auto enrollment = enrollment_secret(p);
  if (!enrollment) return enrollment.error();
  base.enrollment_secret = std::move(*enrollment);
  auto publication = publication_key(p);
  if (!publication) return publication.error();
  base.publication_key = std::move(*publication);
  std::set<std::string> named;
  for (const auto& id : r.form_ids) {
    if (!named.insert(id).second)
      return make_error(Errc::kInvalidArgument, "form " + id + " is named twice");
    auto f = latest_form(p, id);
    if (!f) return f.error();
    if (!*f)
      return make_error(Errc::kNotFound, "no form " + id +
                                             " is held (satchel org forms add FORM.json; org show "
                                             "lists them)");
    base.forms.push_back({(*f)->form_id, (*f)->version, (*f)->content_hash});
  }
  base.issued_at = r.now;
  base.expires_at = r.now + int64_t{86400} * r.valid_days;
  auto text = base.sign(*key);
  if (!text) return text.error();
  SignedInviteBaseText out;
  out.text = std::move(*text);
  out.expires_at = base.expires_at;
  out.roster_version = roster->version;
  out.roster_expires_at = roster->expires_at;
  out.forms = base.forms;
  return out;
}

Status write_invite_base(const SignedInviteBaseText& base, const std::string& path) {
  return write_new_file(path, base.text.span());
}

}  // namespace satchel::org
