// The organisation profile's state (schema/client-database.md, "Organisation profile"): its
// name and roster settings, the coordinators and relays the roster lists, the enrollment secret
// and publication key drawn once at `org init`, and the rules every change must pass. The
// signing key itself is Profile::organisation_key(). Every function refuses a profile of
// another kind.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/client/profile.h"
#include "satchel/crypto/trust_documents.h"

namespace satchel::org {

struct OrgSettings {
  std::string name;            // shown to joining devices: 1..64 bytes, the roster's text rule
  uint32_t valid_days = 90;    // how long a signed roster stays valid: 1..3650
  uint16_t slots = 0;          // bundle slots in the roster, 1..64; 0: as many as coordinators
  uint16_t required_acks = 0;  // acknowledgements before a relay deletes a bundle; 0: all
  uint64_t first_version = 1;  // version of the first roster and registration signed, >= 1
};

struct OrgCoordinator {
  std::string name;  // 1..64 bytes, the roster's text rule
  CoordinatorPublicKey key;
};

// kInvalidArgument naming the setting that breaks its rule.
Status check_settings(const OrgSettings& settings);
// Stores the settings and draws the enrollment secret and the publication key (32 random bytes
// each, kept for the organisation's life). For ProfileContents::initialise, inside `org init`'s
// creating transaction.
Status initialise(client::Profile& profile, const OrgSettings& settings);

Result<OrgSettings> settings(client::Profile& profile);
// Replaces the settings after check_settings; first_version is kept as it was.
Status set_settings(client::Profile& profile, const OrgSettings& settings);
// The secrets an invite base carries (InviteBase), 32 bytes each.
Result<SecretBytes> enrollment_secret(client::Profile& profile);
Result<SecretBytes> publication_key(client::Profile& profile);

// Whether `typed` is the full fingerprint `fingerprint`, white space and '-' ignored in both;
// compared in constant time.
bool fingerprint_confirms(std::string_view typed, std::string_view fingerprint);

// The roster's coordinators, in the order they were added.
Result<std::vector<OrgCoordinator>> coordinators(client::Profile& profile);
// Adds a coordinator once `typed_fingerprint` confirms its key (kDocNotConfirmed "does not
// match" otherwise). Refuses a bad name, a name or key already listed (kAlreadyExists) and a
// coordinator beyond the slot count set.
Status add_coordinator(client::Profile& profile, const OrgCoordinator& coordinator,
                       std::string_view typed_fingerprint);
// kNotFound when no coordinator has that name.
Status remove_coordinator(client::Profile& profile, const std::string& name);

// The roster's relays, in the order they were added.
Result<std::vector<RosterRelay>> relays(client::Profile& profile);
// Refuses a URL that is not https://… (at most 256 bytes, no space), one already listed, and
// pins that are all zero or equal to each other.
Status add_relay(client::Profile& profile, const RosterRelay& relay);
// kNotFound when no relay has that URL.
Status remove_relay(client::Profile& profile, const std::string& url);
// Gives the relay at `relay.url` new pins, keeping its place in the roster (invites and
// coordinators name relays by index). Unless `unrelated` is set, the new pin must be one of the
// two held (the relay serves its backup key after `satchel-relay tls rotate`), so that devices
// holding the current roster keep reaching it; refused (kInvalidArgument) otherwise, and for the
// pins add_relay refuses. kNotFound when no relay has that URL.
Status set_relay_pins(client::Profile& profile, const RosterRelay& relay, bool unrelated);

// A pin given as 64 hex digits; kInvalidArgument naming `what` otherwise.
Result<Hash32> parse_pin(std::string_view hex, const std::string& what);

}  // namespace satchel::org
