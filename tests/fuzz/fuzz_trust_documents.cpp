// libFuzzer target for the signed trust documents: the input as document text, and wrapped in
// each armor, or (first byte 0xFF) a plan: a body signed with the fixed organisation key.
#include <algorithm>
#include <cctype>
#include <optional>

#include "fuzz_common.h"
#include "satchel/crypto/sha256.h"
#include "satchel/crypto/trust_documents.h"

namespace {

using namespace satchel;
using satchel::fuzz::keys;

bool is_doc_error(Errc code) {
  return code >= Errc::kDocMalformed && code <= Errc::kDocContentMismatch;
}

template <class R>
void check_refusal(const R& r) {
  if (!r.ok())
    SATCHEL_FUZZ_CHECK(is_doc_error(r.code()),
                       "a bad document was refused with a non-document code");
}

bool equal_ignoring_case(std::string_view a, ByteView b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, uint8_t y) {
           return std::toupper(static_cast<unsigned char>(x)) == std::toupper(y);
         });
}

// A document that verifies under the fixed key re-signs to the same text (Ed25519 signatures are
// deterministic): the parser accepts exactly one encoding of each document.
void check_roster(std::string_view text) {
  const OrgPublicKey& org = keys().org.public_key();
  auto r = Roster::verify(text, org, fuzz::kNow);
  check_refusal(r);
  if (!r) return;
  auto again = r->sign(keys().org);
  SATCHEL_FUZZ_CHECK(again.ok() && *again == std::string(fuzz::trim(text)),
                     "a verified roster re-signs differently");
  SATCHEL_FUZZ_CHECK(check_roster_update(*r, *r).code() == Errc::kDocRollback,
                     "a roster replaced itself");
}

void check_registration(std::string_view text) {
  const OrgPublicKey& org = keys().org.public_key();
  auto first_use = RelayRegistration::verify(text, std::nullopt);
  auto pinned = RelayRegistration::verify(text, org);
  check_refusal(first_use);
  check_refusal(pinned);
  SATCHEL_FUZZ_CHECK(pinned.ok() == (first_use.ok() && first_use->org == org),
                     "a registration verifies differently with the key pinned");
  if (!pinned) return;
  auto again = pinned->sign(keys().org);
  SATCHEL_FUZZ_CHECK(again.ok() && *again == std::string(fuzz::trim(text)),
                     "a verified registration re-signs differently");
}

void check_form(std::string_view text) {
  auto pkg = FormEnvelope::verify_package(text, keys().org.public_key());
  check_refusal(pkg);
  if (!pkg) return;
  const auto& [env, content] = *pkg;
  SATCHEL_FUZZ_CHECK(env.content_hash == Sha256::digest(content), "form content hash not checked");
  auto again =
      FormEnvelope::sign_package(keys().org, env.form_id, env.form_version, content, env.issued_at);
  SATCHEL_FUZZ_CHECK(again.ok() && *again == std::string(fuzz::trim(text)),
                     "a verified form re-signs differently");
}

void check_invite(ByteView text) {
  auto inv = UnconfirmedInvite::parse(text);
  check_refusal(inv);
  if (!inv) return;
  const std::string fp = inv->fingerprint();
  auto confirmed = std::move(*inv).confirm(fp, fuzz::kNow);
  check_refusal(confirmed);
  if (!confirmed || !(confirmed->contents().org == keys().org.public_key())) return;
  // Invite base32 is read in either case (typed or scanned); the signer writes upper case.
  auto again = sign_invite(confirmed->contents(), keys().org);
  SATCHEL_FUZZ_CHECK(again.ok(), "a confirmed invite cannot be signed again");
  const std::string_view trimmed =
      fuzz::trim(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
  SATCHEL_FUZZ_CHECK(equal_ignoring_case(trimmed, again->span()),
                     "a verified invite re-signs differently");
}

void check_all(std::string_view text) {
  check_roster(text);
  check_registration(text);
  check_form(text);
  check_invite(as_bytes(text));
}

// The input as text, then its bytes behind each armor, so the binary parsers see them directly.
void check_text(ByteView input) {
  const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
  check_all(text);
  check_roster(armor_document(DocType::kRoster, input));
  check_registration(armor_document(DocType::kRelayRegistration, input));
  check_form(armor_document(DocType::kFormEnvelope, input));
  check_invite(as_bytes(fuzz::invite_text(input)));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::use_replayable_random();
  (void)keys();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::restart_random();
  const ByteView input(data, size);
  if (size > 0 && data[0] == fuzz::kPlanMarker) {
    const auto plan = fuzz::decode_signed_doc_plan(input.subspan(1));
    // Every parser sees the document, so a signature for one type is offered to the others.
    check_all(fuzz::signed_doc_text(plan));
  } else {
    check_text(input);
  }
  return 0;
}
