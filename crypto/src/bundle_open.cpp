// Opening, composed from the steps of bundle_reader.h in the order of schema/bundle-format.md
// "Opening". open_bundle reads the bundle once: it decrypts into a staging sink while the payload
// is hashed, so the bytes the sender authenticator covers are the bytes decrypted, and commits
// only after every rule has passed. The two-pass verify_bundle + decrypt_to remain for callers
// that want the metadata before any decryption; decrypt_to hashes what it reads again and
// refuses a payload other than the one verified.
#include <cstring>

#include "bundle_reader.h"

namespace satchel {
namespace {

using namespace bundle_v1;

StreamPlan plan_for(const OpenedHeader& h) {
  return StreamPlan{h.length, h.padded, h.payload_key(), h.stream_header.data()};
}

}  // namespace

VerifiedBundle::~VerifiedBundle() = default;

Result<VerifiedBundle> verify_bundle(RandomAccessSource& src, const SecretBytes& recipient_sk,
                                     const std::optional<DevicePublicKey>& expect_sender) {
  crypto_init();
  if (recipient_sk.size() != 32)
    return make_error(Errc::kInvalidArgument, "recipient key must be 32 bytes");
  auto h = open_header(src, recipient_sk);  // B1-B7
  if (!h) return h.error();
  auto payload = read_payload(src, plan_for(*h), PayloadPass::kFirstChunk, nullptr);  // B8, B9
  if (!payload) return payload.error();
  Status s = check_trailer(src, *h, recipient_sk, payload->inner, payload->content_hash,
                           expect_sender);  // B10, B11, B13
  if (s.code() == Errc::kBundleBadSender) {
    // Name the precise fault if the stream itself is damaged; otherwise blame the sender.
    auto walk = read_payload(src, plan_for(*h), PayloadPass::kWholeStream, nullptr);
    if (!walk) return walk.error();
    if (!walk->stream) return walk->stream.error();
  }
  if (!s) return s.error();

  VerifiedBundle vb(src);
  vb.payload_key_ = SecretBytes(32);
  std::memcpy(vb.payload_key_.data(), h->payload_key(), 32);
  vb.stream_header_ = h->stream_header;
  vb.payload_offset_ = h->length;
  vb.padded_length_ = h->padded;
  vb.content_hash_ = payload->content_hash;
  vb.meta_ = std::move(payload->inner.meta);
  vb.sender_ = payload->inner.device;
  vb.slot_index_ = h->slot_index;
  return vb;
}

Status VerifiedBundle::decrypt_to(ByteSink& out) {
  const StreamPlan plan{payload_offset_, padded_length_, payload_key_.data(),
                        stream_header_.data()};
  auto payload = read_payload(*src_, plan, PayloadPass::kWholeStream, &out);  // B12
  if (!payload) return payload.error();
  if (!payload->stream) return payload->stream;
  // The source was read again: B11 holds only for the payload that was verified.
  if (payload->content_hash != content_hash_)
    return make_error(Errc::kBundleBadSender,
                      "the bundle changed after it was verified: the payload decrypted is not "
                      "the one its sender authenticated");
  return Status::Ok();
}

Result<OpenedBundle> open_bundle(RandomAccessSource& src, const SecretBytes& recipient_sk,
                                 const std::optional<DevicePublicKey>& expect_sender,
                                 StagingSink& out) {
  crypto_init();
  auto refuse = [&out](Error e) -> Result<OpenedBundle> {
    out.discard();
    return e;
  };
  if (recipient_sk.size() != 32)
    return refuse(make_error(Errc::kInvalidArgument, "recipient key must be 32 bytes"));
  auto h = open_header(src, recipient_sk);  // B1-B7
  if (!h) return refuse(h.error());
  // B8, B9, and B12 as it decrypts; the body goes only to the staging sink.
  auto payload = read_payload(src, plan_for(*h), PayloadPass::kWholeStream, &out);
  if (!payload) return refuse(payload.error());
  Status s = check_trailer(src, *h, recipient_sk, payload->inner, payload->content_hash,
                           expect_sender);  // B10, B11, B13
  // A failed B11 is named by B12 when the stream is damaged; a passed one still needs B12.
  if ((s.ok() || s.code() == Errc::kBundleBadSender) && !payload->stream) s = payload->stream;
  if (!s) return refuse(s.error());
  s = out.commit();
  if (!s) return refuse(s.error());
  OpenedBundle opened;
  opened.metadata = std::move(payload->inner.meta);
  opened.sender = payload->inner.device;
  opened.slot_index = h->slot_index;
  return opened;
}

}  // namespace satchel
