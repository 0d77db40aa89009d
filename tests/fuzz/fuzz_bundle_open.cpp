// libFuzzer target for opening sealed bundles: the input as a bundle for the fixed coordinator,
// or (first byte 0xFF) a plan: seal a body with fixed keys, alter the bundle, open it.
#include <algorithm>
#include <optional>

#include "fuzz_common.h"
#include "satchel/crypto/bundle.h"
#include "satchel/crypto/sha256.h"

namespace {

using namespace satchel;
using satchel::fuzz::keys;

bool is_bundle_error(Errc code) {
  return code >= Errc::kBundleUnsupportedVersion && code <= Errc::kBundleTooLarge;
}

// Decrypts a verified bundle; what comes out must be exactly the declared body.
Bytes decrypt(VerifiedBundle& vb) {
  MemorySink sink;
  Status s = vb.decrypt_to(sink);
  SATCHEL_FUZZ_CHECK(s.ok(), "a verified bundle failed to decrypt");
  SATCHEL_FUZZ_CHECK(sink.data().size() == vb.metadata().body_length,
                     "decrypted length differs from the declared body length");
  return std::move(sink.data());
}

void open_arbitrary(ByteView input) {
  MemorySource src(input);
  auto vb = verify_bundle(src, keys().coordinator.x25519(), std::nullopt);
  if (!vb) {
    SATCHEL_FUZZ_CHECK(is_bundle_error(vb.code()), "a bad bundle was refused with a non-bundle code");
    return;
  }
  (void)decrypt(*vb);
}

// True if every byte where `a` and `b` differ lies in a sender authenticator other than the one
// of slot `mine`: those belong to other recipients, and no check covers them for this one.
bool only_other_authenticators_differ(const Bytes& a, const Bytes& b, uint16_t slots,
                                      uint16_t mine) {
  if (a.size() != b.size()) return false;
  const size_t trailer = a.size() - size_t{32} * slots;
  for (size_t i = 0; i < a.size(); i++) {
    if (a[i] == b[i]) continue;
    if (i < trailer || (i - trailer) / 32 == mine) return false;
  }
  return true;
}

void check_metadata(const BundleMetadata& got, const BundleMetadata& sent, const BundleId& id) {
  SATCHEL_FUZZ_CHECK(got.bundle_id == id && got.sequence == sent.sequence &&
                         got.created_at == sent.created_at && got.org_id == sent.org_id &&
                         got.roster_version == sent.roster_version &&
                         got.content_type == sent.content_type && got.form_id == sent.form_id &&
                         got.form_version == sent.form_version &&
                         got.form_hash == sent.form_hash && got.body_length == sent.body_length,
                     "opened metadata differs from the sealed metadata");
}

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
  SATCHEL_FUZZ_CHECK(info->size == sealed.size() &&
                         sealed.size() == bundle_size_for(body.size(), plan.slots,
                                                          sent.form_id.size()),
                     "sealed size differs from bundle_size_for");
  SATCHEL_FUZZ_CHECK(info->upload_id == Sha256::digest(sealed), "upload id is not the SHA-256");

  Bytes altered = sealed;
  for (const auto& op : plan.ops) fuzz::apply_tamper(op, altered);
  std::optional<DevicePublicKey> expect;
  if (plan.expect_other_sender) expect = k.other_device.public_key();

  MemorySource src(altered);
  auto vb = verify_bundle(src, k.coordinator.x25519(), expect);
  if (!vb) {
    SATCHEL_FUZZ_CHECK(is_bundle_error(vb.code()), "a bad bundle was refused with a non-bundle code");
    SATCHEL_FUZZ_CHECK(altered != sealed || (plan.expect_other_sender &&
                                             vb.code() == Errc::kBundleUnexpectedSender),
                       "an unaltered bundle did not open");
  } else {
    SATCHEL_FUZZ_CHECK(!plan.expect_other_sender, "a bundle opened for the wrong expected sender");
    SATCHEL_FUZZ_CHECK(altered == sealed || only_other_authenticators_differ(
                                                sealed, altered, plan.slots, vb->slot_index()),
                       "an altered bundle verified");
    SATCHEL_FUZZ_CHECK(vb->sender() == k.device.public_key(), "opened with the wrong sender");
    check_metadata(vb->metadata(), sent, info->bundle_id);
    SATCHEL_FUZZ_CHECK(decrypt(*vb) == body, "decrypted body differs from the sealed body");
  }

  // The other coordinator opens the unaltered bundle only if it was a recipient.
  MemorySource again(sealed);
  auto other = verify_bundle(again, k.other_coordinator.x25519(), std::nullopt);
  SATCHEL_FUZZ_CHECK(plan.second_recipient ? other.ok() : other.code() == Errc::kBundleNoSlotOpens,
                     "the second coordinator's access does not match the recipients");
  if (other) SATCHEL_FUZZ_CHECK(decrypt(*other) == body, "second recipient decrypted another body");
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
    seal_then_tamper(input.subspan(1));
  } else {
    open_arbitrary(input);
  }
  return 0;
}
