// libFuzzer target for the signed trust documents: the input as document text, and wrapped in
// each armor, or (first byte 0xFF) a plan: a body signed with the fixed organisation key.
#include <algorithm>
#include <optional>

#include "fuzz_common.h"
#include "satchel/crypto/invite.h"
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

// A confirmed invite of the fixed organisation yields a hello that verifies for its device.
void check_invite(ByteView text) {
  auto inv = UnconfirmedInvite::parse(text);
  check_refusal(inv);
  if (!inv) return;
  const std::string fp = inv->fingerprint();
  auto confirmed = std::move(*inv).confirm(fp, fuzz::kNow);
  check_refusal(confirmed);
  if (!confirmed || !(confirmed->base().org == keys().org.public_key())) return;
  auto hello = make_device_hello(*confirmed, keys().device.public_key(), "fuzz");
  SATCHEL_FUZZ_CHECK(hello.ok(), "a confirmed invite gives no hello");
  auto parsed = DeviceHello::parse(hello->encode());
  SATCHEL_FUZZ_CHECK(
      parsed.ok() &&
          parsed->verify(keys().device.public_key(), org_id_for(keys().org.public_key())).ok(),
      "the hello of a confirmed invite does not verify");
}

// An invite base that verifies under the fixed key re-signs to the same text.
void check_invite_base(std::string_view text) {
  auto b = SignedInviteBase::verify(as_bytes(text), keys().org.public_key(), fuzz::kNow);
  check_refusal(b);
  if (!b) return;
  auto again = b->base().sign(keys().org);
  SATCHEL_FUZZ_CHECK(again.ok() && std::string_view(reinterpret_cast<const char*>(again->data()),
                                                    again->size()) == fuzz::trim(text),
                     "a verified invite base re-signs differently");
}

// Any bytes as a hello body: refused with a document code, or parsed into one that re-encodes
// to the same bytes.
void check_hello(ByteView body) {
  auto h = DeviceHello::parse(body);
  check_refusal(h);
  if (!h) return;
  const Bytes again = h->encode();
  SATCHEL_FUZZ_CHECK(
      again.size() == body.size() && std::equal(again.begin(), again.end(), body.begin()),
      "a parsed hello re-encodes differently");
}

void check_all(std::string_view text) {
  check_roster(text);
  check_registration(text);
  check_form(text);
  check_invite(as_bytes(text));
  check_invite_base(text);
}

// The input as text, then its bytes behind each armor, so the binary parsers see them directly.
void check_text(ByteView input) {
  const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
  check_all(text);
  check_roster(armor_document(DocType::kRoster, input));
  check_registration(armor_document(DocType::kRelayRegistration, input));
  check_form(armor_document(DocType::kFormEnvelope, input));
  check_invite(as_bytes(fuzz::invite_text(input)));
  check_invite_base(armor_document(DocType::kInvite, input));
  check_hello(input);
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
