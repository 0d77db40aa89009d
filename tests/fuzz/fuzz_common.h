// Shared by the fuzz targets and their seed generator: fixed test keys, a replayable random
// source, the input framings ("plans") of the structured modes, and the check that turns a
// broken invariant of crypto/ into a crash libFuzzer records.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/keys.h"
#include "satchel/crypto/trust_documents.h"

namespace satchel::fuzz {

// A first input byte that no bundle, document text or document wire starts with: it selects the
// structured mode of a target (the rest of the input is a plan, not the object itself).
inline constexpr uint8_t kPlanMarker = 0xFF;

// The clock documents are verified at; the generated seeds are valid then.
inline constexpr int64_t kNow = 1'800'000'000;

// Test-only keys, generated once and hard-coded so that targets and seeds agree.
struct FixedKeys {
  OrgSecretKey org;
  CoordinatorSecretKey coordinator;        // every target opens bundles with this one
  CoordinatorSecretKey other_coordinator;  // a second recipient, or a stranger to the bundle
  DeviceSecretKey device;                  // the sender of sealed bundles
  DeviceSecretKey other_device;
};
const FixedKeys& keys();

// Replaces libsodium's random source by a ChaCha20 stream so that an input replays exactly
// (bundle ids, ephemeral keys, slot order). Must run before anything else touches libsodium.
void use_replayable_random();
// Restarts the stream: called at the start of every input.
void restart_random();

// Reports a broken invariant and aborts, so libFuzzer saves the input as a crash.
[[noreturn]] void fail(const char* what);

#define SATCHEL_FUZZ_CHECK(cond, what)        \
  do {                                        \
    if (!(cond)) ::satchel::fuzz::fail(what); \
  } while (0)

// Leading and trailing ASCII whitespace removed (what the document parsers ignore).
std::string_view trim(std::string_view s);

// --- "seal, then tamper" (fuzz_bundle_open) ---
// Plan bytes after the marker: flags, u24 body length, form id length, op count, ops (6 bytes
// each), then the body. Missing bytes read as zero, so every input is a plan.

// One alteration of the sealed bytes. Position: offset % (size + 1), counted from the end when
// the op's top bit is set.
struct TamperOp {
  enum Kind : uint8_t { kXor, kSet, kTruncate, kInsert, kErase, kAppend, kKinds };
  uint8_t op = 0;  // Kind in the low bits (modulo kKinds), bit 7: from the end
  uint32_t offset = 0;
  uint8_t value = 0;
};

struct SealPlan {
  uint16_t slots = 1;                // 1..8
  bool second_recipient = false;     // also seal to other_coordinator
  uint8_t content_type = 1;          // 1..5
  bool expect_other_sender = false;  // open expecting other_device (must be refused)
  uint32_t body_length = 0;          // < 2^18; 0: the body is `body` as given
  uint8_t form_id_len = 0;           // 0..65 (65 is over the limit: sealing must refuse)
  std::vector<TamperOp> ops;         // at most 8
  Bytes body;                        // repeated (or zero-filled) to body_length when that is set
};

// The plan bytes, marker included.
Bytes encode_seal_plan(const SealPlan& plan);
// Reads the plan from the bytes after the marker.
SealPlan decode_seal_plan(ByteView in);
// The body the plan seals (body repeated to body_length).
Bytes plan_body(const SealPlan& plan);
// The form id of a plan: the first form_id_len characters of the allowed set.
std::string plan_form_id(uint8_t len);
// Applies one alteration in place.
void apply_tamper(const TamperOp& op, Bytes& bytes);

// --- "forge" (fuzz_bundle_open): a bundle built outside seal_bundle, so the plaintext (inner
// header, body, padding) and the chunk tags are the fuzzer's, as a malicious sender's would be.
// Plan bytes after its marker: flags, u24 padded-length hint, tag byte, then the plaintext.

inline constexpr uint8_t kForgeMarker = 0xFE;

struct ForgePlan {
  uint16_t slots = 1;              // 1..8; the fixed coordinator gets the last slot
  bool raw_plaintext = false;      // do not prepend the fixed device key to the plaintext
  bool bad_authenticator = false;  // write a random sender authenticator
  uint32_t padded_hint = 0;        // < 2^18; padded = Padme(max(hint, plaintext size, 4096))
  uint8_t tags = 0;                // 0: MESSAGE... FINAL; else chunk k gets (tags >> 2(k % 4)) & 3
  Bytes plaintext;                 // zero-filled or cut to the padded length
};

Bytes encode_forge_plan(const ForgePlan& plan);
ForgePlan decode_forge_plan(ByteView in);
// The plaintext actually encrypted: fixed device key (unless raw), plan bytes, zeros; padded.
Bytes forge_plaintext(const ForgePlan& plan);
// The tag of chunk k of `chunks`.
uint8_t forge_tag(const ForgePlan& plan, uint64_t k, uint64_t chunks);
// Encrypts forge_plaintext(plan) as a v1 bundle to the fixed coordinator from the fixed device
// (implemented in bundle_forge.cpp with crypto/'s internal key schedule).
Bytes forge_bundle(const ForgePlan& plan);

// --- "sign, then verify" (fuzz_trust_documents) ---
// Plan bytes after the marker: type byte, u16 body length, body, tail.

struct SignedDocPlan {
  DocType type = DocType::kRoster;  // type byte: low two bits + 1
  bool raw_body = false;            // type byte bit 7: do not prepend the org key and org id
  Bytes body;                       // the document body after the org key and org id
  Bytes tail;                       // bytes after the signature (form content, relay code)
};

Bytes encode_signed_doc_plan(const SignedDocPlan& plan);
SignedDocPlan decode_signed_doc_plan(ByteView in);
// Signs the plan's body with the fixed organisation key and returns the document text: armored
// for rosters, registrations and forms, "INV1-" + upper-case base32 for invites.
std::string signed_doc_text(const SignedDocPlan& plan);
// "INV1-" + upper-case base32 of an invite's wire bytes.
std::string invite_text(ByteView wire);
// The inverse for seeds: splits a document text signed by the fixed key into a plan.
SignedDocPlan signed_doc_plan_from_text(DocType type, std::string_view text);
// The signed wire bytes inside a document text (armor or invite base32 removed); empty if none.
Bytes doc_wire_from_text(DocType type, std::string_view text);

}  // namespace satchel::fuzz
