// The coordinator's invite book (schema/client-database.md, "Invites"): the invite base the
// organisation signed, kept only inside the encrypted coordinator profile (it holds the
// publication key and the enrollment secret), and the invites this coordinator minted from it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "satchel/client/profile.h"
#include "satchel/crypto/invite.h"

namespace satchel::coord {

// The profile setting holding the current invite base's text ("invite-base-…"): a secret. Only
// the current base is kept; a newer one replaces it.
inline constexpr const char* kInviteBaseSetting = "invite_base";

struct InviteBaseImport {
  SignedInviteBase base;              // the base the profile now holds
  bool already_held = false;          // this very base was held: nothing changed
  bool replaced = false;              // an older base was held: it is gone
  std::optional<Error> not_shredded;  // the base is stored, but its file could not be shredded
};

// Verifies "invite-base-…" text against the organisation key the profile trusts, unexpired at
// `now`, and stores it in place of the base held. Refused, with nothing stored: another
// organisation's base (doc-untrusted-signer), a damaged or expired one, one issued before the
// base held or another issued at the same time (doc-rollback), no organisation trusted yet.
Result<InviteBaseImport> store_invite_base(client::Profile& profile, ByteView text, int64_t now);

// Reads the base text from the file at `path` (at most 128 KiB), stores it as store_invite_base
// does, then shreds the file (overwritten, synced, unlinked). A refused base leaves the file.
Result<InviteBaseImport> import_invite_base_file(client::Profile& profile, const std::string& path,
                                                 int64_t now);

// The invite base held, verified against the trusted organisation key at `now`: nullopt when
// none is held, doc-expired once it (or its roster) has expired.
Result<std::optional<SignedInviteBase>> current_invite_base(client::Profile& profile, int64_t now);

// An invite this coordinator minted: identifiers only, never its secrets.
struct MintedInviteEntry {
  InviteId invite_id{};
  TokenId token_id{};
  int64_t minted_day = 0;  // days since 1970-01-01 UTC of its minted_at
  uint8_t relay_index = 0;
};

// Records an invite minted by this coordinator (what `coord invite` does once the invite is
// made); kAlreadyExists for an invite id recorded before, which is left as it was.
Status record_minted_invite(client::Profile& profile, const MintedInviteEntry& entry);
// Every invite recorded, by minted day, then invite id.
Result<std::vector<MintedInviteEntry>> minted_invites(client::Profile& profile);

}  // namespace satchel::coord
