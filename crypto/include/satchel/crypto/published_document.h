// Documents a coordinator publishes on the relay for the organisation's devices (rosters and
// signed forms), encrypted under the invite's publication key (schema/trust-documents.md,
// "Published documents"). Names are derived from the key, the kind and a number, so the relay
// learns neither form ids nor versions, and each number has its own name: overwriting or
// deleting one name cannot stand in for a newer document.
#pragma once

#include <cstdint>
#include <string>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/secret.h"
#include "satchel/crypto/status.h"

namespace satchel {

enum class PublishedKind : uint8_t {
  kRoster = 1,  // numbered by roster version
  kForm = 2,    // numbered by the organisation's form publication sequence: 1, 2, 3, …
};

// A device probes numbers after the highest it has seen and stops after this many names in a
// row are missing.
inline constexpr int kPublishedGapLimit = 4;

// The relay document name: 43 base64url characters.
std::string published_document_name(const SecretBytes& publication_key, PublishedKind kind,
                                    uint64_t number);

// Encrypts `document` (a signed document's text) for the name of (kind, number).
Result<Bytes> seal_published_document(const SecretBytes& publication_key, PublishedKind kind,
                                      uint64_t number, ByteView document);

// Decrypts what the relay served under the name of (kind, number); refuses anything that was
// not sealed for exactly that kind and number under this key.
Result<SecretBytes> open_published_document(const SecretBytes& publication_key, PublishedKind kind,
                                            uint64_t number, ByteView sealed);

}  // namespace satchel
