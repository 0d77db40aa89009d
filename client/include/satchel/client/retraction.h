// Retraction: a respondent withdrawing consent (schema/record-package.md, "Retraction"). At
// finalize a random 16-byte secret is drawn; only its hash travels in the record, and the
// secret is shown once as a code for the respondent or the advocate to keep off the device.
// `satchel retract CODE` on any enrolled device sends the secret in a bundle of content type 4;
// the coordinators match it to the record by the hash. The device keeps nothing linking the two.
#pragma once

#include <string>
#include <string_view>

#include "satchel/client/finalize.h"
#include "satchel/client/profile.h"
#include "satchel/crypto/secret.h"

namespace satchel::client {

inline constexpr size_t kRetractionSecretBytes = 16;

// SHA-256("satchel retraction v1" || secret): what a record's manifest carries.
Hash32 retraction_hash(ByteView secret);
// The code shown to people: the secret in upper-case RFC 4648 base32 (26 characters), in groups
// of four joined by '-' ("ABCD-EFGH-…-YZ"), in secret memory.
SecretBytes retraction_code_text(const SecretBytes& secret);
// Parses a code as typed: case, spaces and dashes are ignored; kInvalidArgument naming what is
// wrong (length, a character outside base32).
Result<SecretBytes> parse_retraction_code(std::string_view text);

// Seals a retraction (content type 4, body {"version":1,"secret":"<32 hex>"}) for the roster's
// coordinators and queues it in the outbox, like a finalized record. Nothing else is kept.
Result<FinalizedRecord> queue_retraction(Profile& profile, const SecretBytes& secret, int64_t now);

}  // namespace satchel::client
