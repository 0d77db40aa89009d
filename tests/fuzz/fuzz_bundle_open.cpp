// libFuzzer target for opening sealed bundles: the input as a bundle for the fixed coordinator,
// or a plan: (first byte 0xFF) seal a body with fixed keys, alter the bundle, open it; (0xFE)
// encrypt the fuzzer's own plaintext and chunk tags as a malicious sender would, open it.
#include <algorithm>
#include <optional>

#include "bundle_layout.h"
#include "fuzz_common.h"
#include "satchel/crypto/bundle.h"
#include "satchel/crypto/sha256.h"

namespace {

using namespace satchel;
using satchel::fuzz::keys;

bool is_bundle_error(Errc code) {
  return code >= Errc::kBundleUnsupportedVersion && code <= Errc::kBundleTooLarge;
}

template <class R>
void check_refusal(const R& r) {
  if (!r.ok())
    SATCHEL_FUZZ_CHECK(is_bundle_error(r.code()), "a bundle was refused with a non-bundle code");
}

// Decrypts a verified bundle. A bundle whose stream its (authentic) sender damaged may still fail
// here, but only for a stream reason, and never with more than the declared body.
Result<Bytes> decrypt(VerifiedBundle& vb) {
  MemorySink sink;
  Status s = vb.decrypt_to(sink);
  SATCHEL_FUZZ_CHECK(sink.data().size() <= vb.metadata().body_length,
                     "decryption wrote more than the declared body");
  if (!s) {
    SATCHEL_FUZZ_CHECK(
        s.code() == Errc::kBundleBadChunkTag || s.code() == Errc::kBundlePaddingNotZero,
        "a verified bundle failed to decrypt for a reason verification covers");
    return s.error();
  }
  SATCHEL_FUZZ_CHECK(sink.data().size() == vb.metadata().body_length,
                     "decrypted length differs from the declared body length");
  return std::move(sink.data());
}

void open_arbitrary(ByteView input) {
  MemorySource src(input);
  auto vb = verify_bundle(src, keys().coordinator.x25519(), std::nullopt);
  check_refusal(vb);
  if (vb) (void)decrypt(*vb);
}

void check_metadata(const BundleMetadata& got, const BundleMetadata& sent, const BundleId& id) {
  SATCHEL_FUZZ_CHECK(got.bundle_id == id && got.sequence == sent.sequence &&
                         got.created_at == sent.created_at && got.org_id == sent.org_id &&
                         got.roster_version == sent.roster_version &&
                         got.content_type == sent.content_type && got.form_id == sent.form_id &&
                         got.form_version == sent.form_version && got.form_hash == sent.form_hash &&
                         got.body_length == sent.body_length,
                     "opened metadata differs from the sealed metadata");
}

// Seals with seal_bundle, alters the bytes as planned: an unaltered bundle opens to its body
// for each recipient, and any alteration at all is refused (the trailer MAC covers every byte
// that the header MAC and the payload hash do not).
void seal_then_tamper(ByteView plan_bytes) {
  const auto plan = fuzz::decode_seal_plan(plan_bytes);
  const fuzz::FixedKeys& k = keys();
  const Bytes body = fuzz::plan_body(plan);

  SealRequest req;
  req.sender = &k.device;
  req.recipients.push_back(k.coordinator.public_key().x25519);
  if (plan.second_recipient) req.recipients.push_back(k.other_coordinator.public_key().x25519);
  req.slot_count = plan.slots;
  BundleMetadata& meta = req.metadata;
  meta.sequence = 0x0123456789abcdefu;
  meta.created_at = fuzz::kNow;
  meta.org_id = org_id_for(k.org.public_key());
  meta.roster_version = 7;
  meta.content_type = static_cast<ContentType>(plan.content_type);
  meta.form_id = fuzz::plan_form_id(plan.form_id_len);
  if (!meta.form_id.empty()) {
    meta.form_version = plan.form_id_len;
    meta.form_hash = Sha256::digest(as_bytes(meta.form_id));
  }
  meta.body_length = body.size();
  const BundleMetadata sent = meta;

  MemorySource body_src(body);
  MemorySink out;
  auto info = seal_bundle(std::move(req), body_src, out);
  const bool sealable = plan.slots >= (plan.second_recipient ? 2 : 1) && plan.form_id_len <= 64;
  SATCHEL_FUZZ_CHECK(info.ok() == sealable, "seal_bundle accepted or refused unexpectedly");
  if (!info) return;
  const Bytes& sealed = out.data();
  SATCHEL_FUZZ_CHECK(
      info->size == sealed.size() &&
          sealed.size() == bundle_size_for(body.size(), plan.slots, sent.form_id.size()),
      "sealed size differs from bundle_size_for");
  MemorySource whole(sealed);
  auto upload_id = compute_upload_id(whole);
  SATCHEL_FUZZ_CHECK(upload_id.ok() && *upload_id == Sha256::digest(sealed),
                     "upload id is not the SHA-256 of the bundle");

  Bytes altered = sealed;
  for (const auto& op : plan.ops) fuzz::apply_tamper(op, altered);
  std::optional<DevicePublicKey> expect;
  if (plan.expect_other_sender) expect = k.other_device.public_key();

  MemorySource src(altered);
  auto vb = verify_bundle(src, k.coordinator.x25519(), expect);
  check_refusal(vb);
  if (altered != sealed) {
    SATCHEL_FUZZ_CHECK(!vb.ok(), "an altered bundle verified");
  } else if (plan.expect_other_sender) {
    SATCHEL_FUZZ_CHECK(vb.code() == Errc::kBundleUnexpectedSender,
                       "a bundle opened for the wrong expected sender");
  } else {
    SATCHEL_FUZZ_CHECK(vb.ok(), "an unaltered bundle did not verify");
    SATCHEL_FUZZ_CHECK(vb->sender() == k.device.public_key(), "opened with the wrong sender");
    check_metadata(vb->metadata(), sent, info->bundle_id);
    auto opened = decrypt(*vb);
    SATCHEL_FUZZ_CHECK(opened.ok() && *opened == body, "an unaltered bundle did not decrypt");
  }

  // The other coordinator opens the unaltered bundle only if it was a recipient.
  MemorySource again(sealed);
  auto other = verify_bundle(again, k.other_coordinator.x25519(), std::nullopt);
  SATCHEL_FUZZ_CHECK(plan.second_recipient ? other.ok() : other.code() == Errc::kBundleNoSlotOpens,
                     "the second coordinator's access does not match the recipients");
  if (other) {
    auto opened = decrypt(*other);
    SATCHEL_FUZZ_CHECK(opened.ok() && *opened == body, "second recipient decrypted another body");
  }
}

// What the opening rules must conclude about a forged bundle, worked out from the plan.
struct ForgeVerdict {
  Errc verify = Errc::kOk;   // the code verify_bundle must give
  Errc decrypt = Errc::kOk;  // then the code decrypt_to must give
  size_t body_begin = 0, body_end = 0;
};

// Rules B8-B13 applied to the plaintext: chunk 0's tag, the inner header, then the sender
// authenticator; the remaining tags and the padding are checked while decrypting (or, when the
// authenticator fails, to name the fault).
ForgeVerdict judge(const fuzz::ForgePlan& plan, const Bytes& plain) {
  ForgeVerdict v;
  const uint64_t chunks = bundle_v1::chunk_count(plain.size());
  const auto tag_ok = [&](uint64_t k) {
    return fuzz::forge_tag(plan, k, chunks) ==
           (k + 1 == chunks ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                            : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
  };
  if (!tag_ok(0)) {
    v.verify = Errc::kBundleBadChunkTag;
    return v;
  }
  const size_t first = bundle_v1::chunk_plain_len(plain.size(), 0);
  auto inner = bundle_v1::parse_inner(ByteView(plain.data(), first), plain.size());
  if (!inner) {
    v.verify = inner.code();
    return v;
  }
  v.body_begin = inner->length;
  v.body_end = inner->length + inner->meta.body_length;
  // The first fault in stream order: a chunk's tag, then non-zero bytes past the body.
  Errc stream = Errc::kOk;
  for (uint64_t k = 0; k < chunks && stream == Errc::kOk; k++) {
    const size_t from = k * kBundleChunkSize,
                 to = from + bundle_v1::chunk_plain_len(plain.size(), k);
    if (!tag_ok(k)) {
      stream = Errc::kBundleBadChunkTag;
    } else if (to > v.body_end &&
               !std::all_of(plain.begin() + static_cast<std::ptrdiff_t>(std::max(from, v.body_end)),
                            plain.begin() + static_cast<std::ptrdiff_t>(to),
                            [](uint8_t b) { return b == 0; })) {
      stream = Errc::kBundlePaddingNotZero;
    }
  }
  const bool authentic = !plan.bad_authenticator && inner->device == keys().device.public_key();
  if (!authentic) {
    v.verify = stream != Errc::kOk ? stream : Errc::kBundleBadSender;
  } else {
    v.decrypt = stream;
  }
  return v;
}

void open_forged(ByteView plan_bytes) {
  const auto plan = fuzz::decode_forge_plan(plan_bytes);
  const Bytes plain = fuzz::forge_plaintext(plan);
  const Bytes forged = fuzz::forge_bundle(plan);
  const ForgeVerdict want = judge(plan, plain);
  MemorySource src(forged);
  auto vb = verify_bundle(src, keys().coordinator.x25519(), std::nullopt);
  SATCHEL_FUZZ_CHECK(vb.code() == want.verify, "verify_bundle judged a forged bundle wrongly");
  if (!vb) return;
  SATCHEL_FUZZ_CHECK(vb->sender() == keys().device.public_key(), "accepted a forged sender");
  auto opened = decrypt(*vb);
  SATCHEL_FUZZ_CHECK(opened.code() == want.decrypt, "decrypt_to judged a forged stream wrongly");
  if (!opened) return;
  const auto at = [&](size_t i) { return plain.begin() + static_cast<std::ptrdiff_t>(i); };
  SATCHEL_FUZZ_CHECK(*opened == Bytes(at(want.body_begin), at(want.body_end)),
                     "decrypted body differs from the encrypted body");
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
  const uint8_t mode = size > 0 ? data[0] : 0;
  if (mode == fuzz::kPlanMarker) {
    seal_then_tamper(input.subspan(1));
  } else if (mode == fuzz::kForgeMarker) {
    open_forged(input.subspan(1));
  } else {
    open_arbitrary(input);
  }
  return 0;
}
