// Internal to crypto/: the signed-document envelope shared by trust_documents.cpp and
// invite.cpp (schema/trust-documents.md, "Signed documents" and rules D1-D7).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "satchel/crypto/trust_documents.h"

namespace satchel::docwire {

struct ParsedDoc {
  ByteView body;
  std::array<uint8_t, 64> sig{};
  OrgPublicKey signer;
  size_t consumed = 0;  // bytes of the envelope, signature included
};

// An error of document type t: "<kind>: <what>".
Error doc_err(Errc code, DocType t, const std::string& what);
Error field_err(DocType t, const std::string& what);
// The envelope (wire format) of body signed as type t.
Bytes sign_doc(DocType t, ByteView body, const OrgSecretKey& key);
// Rules D2-D4 on the envelope at the start of `wire`; bytes after it only if allow_rest.
Result<ParsedDoc> parse_doc(ByteView wire, DocType expected, bool allow_rest);
// Rules D5-D6: the signer is `trusted` (when set) and the signature verifies.
Status check_signature(const ParsedDoc& d, DocType t, const std::optional<OrgPublicKey>& trusted);
// Text forms: prefix + base64url (rule D1).
std::string armor(DocType t, ByteView wire);
Result<Bytes> dearmor(std::string_view text, DocType expected);
bool ascii_space(char c);
std::string_view trim(std::string_view s);
// The spec's text rule for names and URLs, at most `max` bytes.
bool text_ok(std::string_view s, size_t max);
// 1..64 bytes of [A-Za-z0-9._-].
bool form_id_ok(std::string_view id);
// A roster's wire bytes from its text, and their verification (D1-D7, no expiry).
Result<Bytes> roster_wire_from_text(std::string_view text);
Result<Roster> verify_roster_wire(ByteView wire, const std::optional<OrgPublicKey>& trusted);

}  // namespace satchel::docwire
