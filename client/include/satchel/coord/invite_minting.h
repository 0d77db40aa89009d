// `satchel coord invite`: mints one invite from the invite base the coordinator profile holds
// (schema/trust-documents.md, "Minted part"): the relay mints an enrollment code through the
// coordinator's session, a secret is drawn for this invite alone, the coordinator signs the mint
// statement, and the invite is recorded (ids only) in the profile.
#pragma once

#include <cstdint>

#include "satchel/client/profile.h"
#include "satchel/client/relay_client.h"
#include "satchel/crypto/invite.h"

namespace satchel::coord {

struct InviteRequest {
  size_t relay_index = 0;  // the roster relay that mints the code and the device will use
  int hours = 0;           // the code's validity, 1..72; 0: the relay's default
  client::RelayClientOptions relay;
  int64_t now = 0;  // Unix seconds
};

struct IssuedInvite {
  SecretBytes text;  // "INV1-…": a secret
  InviteId id{};
  TokenId token_id{};
  int64_t code_expires_at = 0;  // the relay code's expiry
  int64_t expires_at = 0;       // the invite base's expiry
};

// Mints an invite. Refuses (before asking the relay for a code) when no invite base is held or
// it has expired, or when the base's roster names another relay at `relay_index` than the
// roster the coordinator holds.
Result<IssuedInvite> issue_invite(client::Profile& profile, const InviteRequest& request);

}  // namespace satchel::coord
