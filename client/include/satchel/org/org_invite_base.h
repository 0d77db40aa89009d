// The organisation's invite base (`satchel org invite-base`): the signed part of every invite a
// coordinator mints (schema/trust-documents.md, "Invite (type 4)"), carrying the roster last
// published, the forms named, and the organisation's enrollment secret and publication key. It
// is a secret: written only to a new file of mode 0600, for `satchel coord invite-base import`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "satchel/client/profile.h"
#include "satchel/crypto/invite.h"

namespace satchel::org {

struct InviteBaseRequest {
  std::vector<std::string> form_ids;  // each named once; its highest version held goes in
  uint32_t valid_days = 30;           // 1..3650
  int64_t now = 0;                    // Unix seconds
};

struct SignedInviteBaseText {
  SecretBytes text;  // "invite-base-…"
  int64_t expires_at = 0;
  uint64_t roster_version = 0;
  int64_t roster_expires_at = 0;
  std::vector<InviteForm> forms;
};

// Signs an invite base. Refuses while the state has changes no publication carried (roster,
// registration or forms: run `satchel org publish` first), or the roster published has expired,
// a form id that is not held or is named twice, and more than 32 forms.
Result<SignedInviteBaseText> make_invite_base(client::Profile& profile,
                                              const InviteBaseRequest& request);

// Writes the base to a new file `path` (never over an existing one), mode 0600, synced.
Status write_invite_base(const SignedInviteBaseText& base, const std::string& path);

}  // namespace satchel::org
