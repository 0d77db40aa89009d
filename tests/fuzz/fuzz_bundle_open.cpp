// libFuzzer target for opening sealed bundles with the one-pass opener (open_bundle): the input
// as a bundle for the fixed coordinator, or a plan: (first byte 0xFF) seal a body with fixed
// keys, alter the bundle, open it; (0xFE) encrypt the fuzzer's own plaintext and chunk tags as a
// malicious sender would, open it. Every open checks what the staging sink saw: committed only
// when accepted, with exactly the declared body; discarded on every refusal.
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

// A staging sink that keeps what open_bundle writes and records whether it was committed.
class RecordingSink final : public StagingSink {
 public:
  Status write(ByteView data) override {
    SATCHEL_FUZZ_CHECK(!committed_ && !discarded_, "open_bundle wrote after commit or discard");
    bytes_.insert(bytes_.end(), data.begin(), data.end());
    return Status::Ok();
  }
  bool writable_from_any_thread() const override { return true; }
  Status commit() override {
    SATCHEL_FUZZ_CHECK(!committed_ && !discarded_, "open_bundle committed twice or after discard");
    committed_ = true;
    return Status::Ok();
  }
  void discard() override { discarded_ = true; }
  bool committed() const { return committed_; }
  bool discarded() const { return discarded_; }
  Bytes& bytes() { return bytes_; }

 private:
  Bytes bytes_;
  bool committed_ = false, discarded_ = false;
};

struct Opened {
  Result<OpenedBundle> result = make_error(Errc::kInternal, "not opened");
  Bytes body;  // the committed body; empty when refused
};

// Opens `bundle` in one pass. A refusal carries a bundle code and commits nothing; an accepted
// bundle commits exactly its declared body.
Opened open(ByteView bundle, const SecretBytes& key, const std::optional<DevicePublicKey>& expect) {
  MemorySource src(bundle);
  RecordingSink sink;
  Opened o;
  o.result = open_bundle(src, key, expect, sink);
  SATCHEL_FUZZ_CHECK(sink.bytes().size() <= bundle.size(),
                     "open_bundle wrote more plaintext than the bundle has ciphertext");
  if (!o.result) {
    SATCHEL_FUZZ_CHECK(is_bundle_error(o.result.code()),
                       "a bundle was refused with a non-bundle code");
    SATCHEL_FUZZ_CHECK(!sink.committed() && sink.discarded(),
                       "a refused bundle's plaintext was not discarded");
    return o;
  }
  SATCHEL_FUZZ_CHECK(sink.committed() && !sink.discarded(), "an accepted body was not committed");
  SATCHEL_FUZZ_CHECK(sink.bytes().size() == o.result->metadata.body_length,
                     "the committed body differs in length from the declared body");
  o.body = std::move(sink.bytes());
  return o;
}

// The two-pass opener, kept in the API for callers that want metadata first, must reach the
// same verdict as open_bundle on every input.
Errc two_pass_verdict(ByteView bundle, const SecretBytes& key) {
  MemorySource src(bundle);
  auto vb = verify_bundle(src, key, std::nullopt);
  if (!vb) return vb.code();
  MemorySink sink;
  return vb->decrypt_to(sink).code();
}

void open_arbitrary(ByteView input) {
  const Opened o = open(input, keys().coordinator.x25519(), std::nullopt);
  SATCHEL_FUZZ_CHECK(two_pass_verdict(input, keys().coordinator.x25519()) == o.result.code(),
                     "open_bundle and the two-pass opener disagree");
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

  const Opened o = open(altered, k.coordinator.x25519(), expect);
  if (altered != sealed) {
    SATCHEL_FUZZ_CHECK(!o.result.ok(), "an altered bundle was opened");
  } else if (plan.expect_other_sender) {
    SATCHEL_FUZZ_CHECK(o.result.code() == Errc::kBundleUnexpectedSender,
                       "a bundle opened for the wrong expected sender");
  } else {
    SATCHEL_FUZZ_CHECK(o.result.ok(), "an unaltered bundle did not open");
    SATCHEL_FUZZ_CHECK(o.result->sender == k.device.public_key(), "opened with the wrong sender");
    check_metadata(o.result->metadata, sent, info->bundle_id);
    SATCHEL_FUZZ_CHECK(o.body == body, "an unaltered bundle opened to another body");
  }

  // The other coordinator opens the unaltered bundle only if it was a recipient.
  const Opened other = open(sealed, k.other_coordinator.x25519(), std::nullopt);
  SATCHEL_FUZZ_CHECK(
      plan.second_recipient ? other.result.ok() : other.result.code() == Errc::kBundleNoSlotOpens,
      "the second coordinator's access does not match the recipients");
  if (other.result) SATCHEL_FUZZ_CHECK(other.body == body, "second recipient opened another body");
}

// What the opening rules must conclude about a forged bundle, worked out from the plan.
struct ForgeVerdict {
  Errc code = Errc::kOk;  // the code open_bundle must give
  size_t body_begin = 0, body_end = 0;
};

// Rules B8-B13 applied to the plaintext: chunk 0's tag, the inner header, then the sender
// authenticator; when it fails, the first stream fault (B12) names the reason instead, and when
// it passes, a stream fault is still the verdict.
ForgeVerdict judge(const fuzz::ForgePlan& plan, const Bytes& plain) {
  ForgeVerdict v;
  const uint64_t chunks = bundle_v1::chunk_count(plain.size());
  const auto tag_ok = [&](uint64_t k) {
    return fuzz::forge_tag(plan, k, chunks) ==
           (k + 1 == chunks ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                            : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
  };
  if (!tag_ok(0)) {
    v.code = Errc::kBundleBadChunkTag;
    return v;
  }
  const size_t first = bundle_v1::chunk_plain_len(plain.size(), 0);
  auto inner = bundle_v1::parse_inner(ByteView(plain.data(), first), plain.size());
  if (!inner) {
    v.code = inner.code();
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
  if (stream != Errc::kOk)
    v.code = stream;
  else if (!authentic)
    v.code = Errc::kBundleBadSender;
  return v;
}

void open_forged(ByteView plan_bytes) {
  const auto plan = fuzz::decode_forge_plan(plan_bytes);
  const Bytes plain = fuzz::forge_plaintext(plan);
  const Bytes forged = fuzz::forge_bundle(plan);
  const ForgeVerdict want = judge(plan, plain);
  const Opened o = open(forged, keys().coordinator.x25519(), std::nullopt);
  SATCHEL_FUZZ_CHECK(o.result.code() == want.code, "open_bundle judged a forged bundle wrongly");
  if (!o.result) return;
  SATCHEL_FUZZ_CHECK(o.result->sender == keys().device.public_key(), "accepted a forged sender");
  const auto at = [&](size_t i) { return plain.begin() + static_cast<std::ptrdiff_t>(i); };
  SATCHEL_FUZZ_CHECK(o.body == Bytes(at(want.body_begin), at(want.body_end)),
                     "opened body differs from the encrypted body");
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
