// Invites (schema/trust-documents.md, "Invite (type 4)"): the organisation signs an invite base
// offline; a coordinator mints each invite online from it (a relay enrollment code, a secret for
// that invite alone and its own statement binding the invite to the code); a device that joined
// with it introduces itself to the coordinators with a device hello (content type 3), signed by a
// key derived from the per-invite secret.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/crypto/keys.h"
#include "satchel/crypto/status.h"
#include "satchel/crypto/trust_documents.h"

namespace satchel {

using Sig64 = std::array<uint8_t, 64>;
using TokenId = std::array<uint8_t, 8>;    // the relay's code id, which its token keeps
using InviteId = std::array<uint8_t, 16>;  // names one minted invite; see invite_id_for

struct InviteForm {
  std::string form_id;  // 1..64 bytes of [A-Za-z0-9._-]
  uint64_t version = 0;
  Hash32 content_hash{};  // SHA-256 of the form content the device fetches
};

// The part of an invite that the organisation signs (type 4). It holds secrets: its text
// ("invite-base-…") and every copy are handled as secrets.
struct InviteBase {
  OrgPublicKey org;
  std::string roster_text;        // a signed roster ("roster-…")
  SecretBytes enrollment_secret;  // 32 bytes; shared by every invite of the base: proves nothing
  SecretBytes publication_key;    // 32 bytes; rosters and forms are published under it
  std::vector<InviteForm> forms;  // at most 32
  int64_t issued_at = 0;
  int64_t expires_at = 0;

  // Signs the base; returns "invite-base-" + base64url of its wire bytes, in secret memory.
  Result<SecretBytes> sign(const OrgSecretKey& org_key) const;
};

// An invite base verified against the organisation key a coordinator trusts, with the signed
// wire bytes that minted invites carry unchanged.
class SignedInviteBase {
 public:
  // Verifies "invite-base-…" text signed by `trusted`, unexpired at `now`, whose roster is
  // valid at `now` too.
  static Result<SignedInviteBase> verify(ByteView text, const OrgPublicKey& trusted, int64_t now);
  const InviteBase& base() const { return base_; }
  const SecretBytes& wire() const { return wire_; }
  const Roster& roster() const { return roster_; }

 private:
  InviteBase base_;
  Roster roster_;
  SecretBytes wire_;
};

// What the minting coordinator adds online: the unsigned part of an invite.
struct InviteMint {
  SecretBytes relay_code;  // the enrollment code as text, 16..128 bytes
  int64_t relay_code_expires_at = 0;
  uint8_t relay_index = 0;    // which of the roster's relays minted the code
  TokenId token_id{};         // the code's id at that relay
  SecretBytes invite_secret;  // 32 bytes drawn for this invite alone
  Key32 minter_key{};         // the minting coordinator's Ed25519 relay key
  int64_t minted_at = 0;
  Sig64 mint_signature{};  // by minter_key over mint_statement(...)
};

// The invite's Ed25519 public key, derived from its secret (which also gives the signing key).
Key32 invite_key_for(const SecretBytes& invite_secret);
// The first 16 bytes of BLAKE2b-256("satchel invite id v1" || invite key).
InviteId invite_id_for(const Key32& invite_key);
// The exact bytes a minting coordinator signs: context, org id, invite key, token id, time.
Bytes mint_statement(const OrgId& org, const Key32& invite_key, const TokenId& token_id,
                     int64_t minted_at);

struct MintedInvite {
  SecretBytes text;  // "INV1-" + upper-case base32: QR alphanumeric mode
  InviteId id{};
  Key32 invite_key{};
};

// Mints an invite from `base`: draws the per-invite secret and signs the mint statement with
// the coordinator's relay key. `relay_index` must name one of the base roster's relays.
Result<MintedInvite> mint_invite(const SignedInviteBase& base, const SecretBytes& relay_code,
                                 int64_t relay_code_expires_at, uint8_t relay_index,
                                 const TokenId& token_id, int64_t minted_at,
                                 const CoordinatorSecretKey& minter);

class ConfirmedInvite;

// An invite parsed and signature-checked against the key it carries, but not yet trusted: the
// organisation fingerprint must be confirmed out of band first (rule D11).
class UnconfirmedInvite {
 public:
  static Result<UnconfirmedInvite> parse(ByteView text);
  // The organisation key's full fingerprint, to be compared with the coordinator's.
  std::string fingerprint() const { return base_.org.fingerprint(); }
  // The organisation name from the embedded roster, unverified until confirmed: for display.
  const std::string& claimed_org_name() const { return claimed_name_; }
  // Succeeds only if `typed_fingerprint` matches (white space and '-' ignored) and the invite
  // and its roster are valid at `now`.
  Result<ConfirmedInvite> confirm(std::string_view typed_fingerprint, int64_t now) &&;

 private:
  InviteBase base_;
  InviteMint mint_;
  std::string claimed_name_;
};

class ConfirmedInvite {
 public:
  const InviteBase& base() const { return base_; }
  const InviteMint& mint() const { return mint_; }
  const Roster& roster() const { return roster_; }
  InviteId id() const { return invite_id_for(invite_key_for(mint_.invite_secret)); }
  // The relay that minted the code (the roster's relay at the mint's relay index).
  const RosterRelay& relay() const { return roster_.relays[mint_.relay_index]; }

 private:
  friend class UnconfirmedInvite;
  InviteBase base_;
  InviteMint mint_;
  Roster roster_;
};

// A device's introduction to the coordinators (bundle content type 3): its key, a label, the
// relay token it joined with, and the invite's proof, signed by the per-invite key.
struct DeviceHello {
  DevicePublicKey device;
  std::string label;  // 1..64 bytes, the text rule
  TokenId token_id{};
  OrgId org_id{};
  Key32 invite_key{};
  Key32 minter_key{};
  int64_t minted_at = 0;
  Sig64 mint_signature{};
  Sig64 signature{};  // by the invite key over everything before it

  InviteId invite_id() const { return invite_id_for(invite_key); }
  Bytes encode() const;
  // Parses the body of a content type 3 bundle: structure and field constraints only.
  static Result<DeviceHello> parse(ByteView body);
  // Both signatures, the org id, and that `sender` (the bundle's authenticated sender) is the
  // device the hello names. Whether minter_key belongs to a coordinator is the caller's check.
  Status verify(const DevicePublicKey& sender, const OrgId& org) const;
};

// The hello a device sends after joining with `invite`: signed with the per-invite key.
Result<DeviceHello> make_device_hello(const ConfirmedInvite& invite, const DevicePublicKey& device,
                                      std::string_view label);

}  // namespace satchel
