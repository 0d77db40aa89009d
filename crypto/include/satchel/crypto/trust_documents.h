// Documents signed by the organisation key (schema/trust-documents.md): the roster, the relay
// registration, the signed form envelope (invites: invite.h); plus the coordinator's relay
// challenge.
// Every signature covers a per-type context string, the type byte and the length-prefixed body,
// so no signature verifies as another kind of document.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/crypto/bundle.h"
#include "satchel/crypto/keys.h"
#include "satchel/crypto/status.h"

namespace satchel {

enum class DocType : uint8_t {
  kRoster = 1,
  kRelayRegistration = 2,
  kFormEnvelope = 3,
  kInvite = 4,
};

inline constexpr uint8_t kDocFormatVersion = 1;
inline constexpr size_t kMaxDocBody = 64 * 1024;
inline constexpr size_t kMaxFormContent = 4 * 1024 * 1024;

// Low level (vectors, publication): signs `body` as a document of type t and returns its wire
// bytes; armor_document gives the text form ("roster-…", "registration-…", "form-…").
Bytes sign_document(DocType t, ByteView body, const OrgSecretKey& org_key);
std::string armor_document(DocType t, ByteView wire);

// The organisation id: the first 16 bytes of BLAKE2b-256("satchel org id v1" || org key).
OrgId org_id_for(const OrgPublicKey& org);

struct RosterCoordinator {
  std::string name;  // 1..64 bytes of UTF-8, no control characters
  CoordinatorPublicKey key;
};

struct RosterRelay {
  std::string url;      // https://… (onion names allowed), at most 256 bytes
  Hash32 spki_pin{};    // SHA-256 of the relay certificate's SubjectPublicKeyInfo
  Hash32 backup_pin{};  // pin of the backup key kept aside by the operator
};

struct Roster {
  OrgPublicKey org;
  uint64_t version = 0;  // monotonic, >= 1
  int64_t issued_at = 0;
  int64_t expires_at = 0;
  std::string org_name;     // 1..64 bytes, the text rule: shown to devices that join
  uint16_t slot_count = 0;  // N bundle slots, >= coordinators.size(), <= 64
  std::vector<RosterCoordinator> coordinators;
  std::vector<RosterRelay> relays;

  OrgId org_id() const { return org_id_for(org); }
  // Signs with the organisation key and returns the armored text ("roster-…").
  Result<std::string> sign(const OrgSecretKey& org_key) const;
  // Verifies text signed by `trusted` and not expired at `now`.
  static Result<Roster> verify(std::string_view text, const OrgPublicKey& trusted, int64_t now);
};

// Accepts `incoming` in place of `held` only if it is newer (no rollback, no replay of the same
// version). `held` is nullopt on first use.
Status check_roster_update(const std::optional<Roster>& held, const Roster& incoming);

struct RelayRegistration {
  OrgPublicKey org;
  uint64_t version = 0;
  int64_t issued_at = 0;
  uint16_t required_acks = 0;  // k of n coordinators must acknowledge before deletion; 0 = all
  std::vector<Key32> coordinator_auth_keys;  // Ed25519 only: no names, no encryption keys

  Result<std::string> sign(const OrgSecretKey& org_key) const;
  // Verifies a registration; with `trusted` unset the embedded key is used (first use on the
  // relay), otherwise the embedded key must equal it.
  static Result<RelayRegistration> verify(std::string_view text,
                                          const std::optional<OrgPublicKey>& trusted);
};

// Accepts `incoming` in place of `held` (the relay's) only if signed by the same organisation
// and strictly newer.
Status check_registration_update(const std::optional<RelayRegistration>& held,
                                 const RelayRegistration& incoming);

struct FormEnvelope {
  OrgPublicKey org;
  std::string form_id;        // 1..64 bytes of [A-Za-z0-9._-]
  uint64_t form_version = 0;  // monotonic, >= 1
  Hash32 content_hash{};      // SHA-256 of the form JSON bytes
  int64_t issued_at = 0;

  // Signs the envelope and returns a signed form package: envelope plus content.
  static Result<std::string> sign_package(const OrgSecretKey& org_key, std::string_view form_id,
                                          uint64_t version, ByteView content, int64_t issued_at);
  // Verifies a signed form package; returns the envelope and the content.
  static Result<std::pair<FormEnvelope, Bytes>> verify_package(std::string_view text,
                                                               const OrgPublicKey& trusted);
};

// Accepts `incoming` for a form only if newer than the version held (nullopt on first use).
Status check_form_update(std::optional<uint64_t> held_version, const FormEnvelope& incoming);

// The message a coordinator signs to open a relay session: domain-separated and bound to the
// relay's TLS SPKI pin, the mailbox and a fresh relay nonce.
// Mailbox id 1..64 bytes, nonce 16..64 bytes.
Result<Bytes> relay_challenge_message(const Hash32& spki_pin, ByteView mailbox_id, ByteView nonce,
                                      int64_t issued_at);
std::array<uint8_t, 64> sign_relay_challenge(const CoordinatorSecretKey& key, ByteView message);
bool verify_relay_challenge(const Key32& coordinator_ed25519, ByteView message,
                            const std::array<uint8_t, 64>& signature);

}  // namespace satchel
