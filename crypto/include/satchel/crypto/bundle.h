// The sealed bundle, v1 (schema/bundle-format.md): multi-recipient encryption of one body for
// the organisation's coordinators, with a sender authenticator per recipient slot. Sealing and
// opening stream in constant memory (a few MiB of buffers); opening verifies everything before
// releasing plaintext. Both hash the payload on a helper thread while the cipher runs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "satchel/crypto/io.h"
#include "satchel/crypto/keys.h"
#include "satchel/crypto/status.h"

namespace satchel {

inline constexpr uint8_t kBundleVersion = 1;
inline constexpr size_t kBundleChunkSize = 64 * 1024;  // plaintext bytes per secretstream message
inline constexpr uint16_t kBundleMaxSlots = 64;
inline constexpr uint64_t kBundlePaddingFloor = 4096;
inline constexpr uint64_t kBundleMaxPadded = uint64_t{1} << 40;  // 1 TiB of padded plaintext
inline constexpr size_t kBundleFormIdMax = 64;

using BundleId = std::array<uint8_t, 16>;
using OrgId = std::array<uint8_t, 16>;
using Hash32 = std::array<uint8_t, 32>;

// What the body is. Values are frozen in v1 (6 was added later: earlier readers refuse it);
// any other value is refused.
enum class ContentType : uint8_t {
  kRecord = 1,       // a finalized survey record or testimony (with its attachments)
  kAttachment = 2,   // an attachment sent on its own
  kDeviceHello = 3,  // a device introducing itself to coordinators
  kRetraction = 4,   // withdraws an earlier bundle
  kCover = 5,        // cover traffic: coordinators discard it after verification
  kBackup = 6,       // a coordinator's whole store, sealed to backup keys (coordinator-backup.md)
};
bool content_type_known(uint8_t v);

// Metadata that travels only inside the ciphertext.
struct BundleMetadata {
  BundleId bundle_id{};         // random per bundle, chosen by seal_bundle
  uint64_t sequence = 0;        // per-device counter; starts at a random offset (caller's job)
  int64_t created_at = 0;       // Unix seconds
  OrgId org_id{};               // all zero when no roster is used
  uint64_t roster_version = 0;  // 0 when no roster is used
  ContentType content_type = ContentType::kRecord;
  std::string form_id;  // empty when the body is not tied to a form; at most 64 bytes
  uint64_t form_version = 0;
  Hash32 form_hash{};
  uint64_t body_length = 0;
};

struct SealRequest {
  const DeviceSecretKey* sender = nullptr;
  std::vector<Key32> recipients;  // coordinator X25519 keys, distinct, 1..slot_count
  uint16_t slot_count = 0;        // N; 0 means recipients.size()
  BundleMetadata metadata;        // bundle_id is overwritten; body_length must match the body
};

struct SealedBundleInfo {
  BundleId bundle_id{};
  uint64_t size = 0;  // bytes written
};

// The relay's name for a bundle: SHA-256 of all its bytes (distinct from the bundle id inside).
Result<Hash32> compute_upload_id(ByteSource& bundle);

// Seals body_length bytes from body into out. Fails if the body is shorter or longer than
// declared, a recipient key is invalid or repeated, or the slot count is out of range. body is
// read on the calling thread; out is written there too, or, if out.writable_from_any_thread(),
// by seal_bundle's hashing thread (in order, all before it returns). On failure, out holds a
// partial bundle to discard.
Result<SealedBundleInfo> seal_bundle(SealRequest request, ByteSource& body, ByteSink& out);

// Total bundle size for a body of this length, in N slots, with this form id length.
uint64_t bundle_size_for(uint64_t body_length, uint16_t slot_count, size_t form_id_len);

// Padmé padding (Nikitin et al. 2019) with the 4 KiB floor: the padded plaintext length.
uint64_t padme_padded_length(uint64_t length);

// What open_bundle learned about an accepted bundle.
struct OpenedBundle {
  BundleMetadata metadata;
  DevicePublicKey sender;
  uint16_t slot_index = 0;
};

// Opens a bundle for the coordinator X25519 secret key in one pass over src, applying every
// rule of the spec (B1-B13) with the same verdicts and codes as verify_bundle followed by
// decrypt_to. Each byte of src is read once, so the payload that is decrypted is the payload
// whose hash the sender authenticator covers. The body is written to out while it is decrypted,
// before the sender is verified: open_bundle calls out.commit() only once every rule has passed,
// and out.discard() on any failure, so no plaintext is released from a bundle that is refused.
// If expect_sender is set, a different (but authentic) sender is kBundleUnexpectedSender. src
// is read on the calling thread; out is written as seal_bundle writes its sink.
Result<OpenedBundle> open_bundle(RandomAccessSource& src, const SecretBytes& recipient_x25519,
                                 const std::optional<DevicePublicKey>& expect_sender,
                                 StagingSink& out);

// The two-pass opener, for callers that want the metadata before decrypting anything (prefer
// open_bundle). A VerifiedBundle's header, first chunk, trailer and sender authenticator have
// been verified for one recipient key: every ciphertext byte it read was the sender's.
class VerifiedBundle {
 public:
  const BundleMetadata& metadata() const { return meta_; }
  const DevicePublicKey& sender() const { return sender_; }
  uint16_t slot_index() const { return slot_index_; }
  // Decrypts the body into out (second pass over the source), checking every chunk, the tag
  // sequence and the padding, and hashing the payload again: if the source no longer holds the
  // payload that was verified, it fails with kBundleBadSender. On failure, out holds a prefix
  // of a body that must not be trusted: the caller must discard it.
  Status decrypt_to(ByteSink& out);

  VerifiedBundle(VerifiedBundle&&) noexcept = default;
  ~VerifiedBundle();

 private:
  friend Result<VerifiedBundle> verify_bundle(RandomAccessSource&, const SecretBytes&,
                                              const std::optional<DevicePublicKey>&);
  VerifiedBundle(RandomAccessSource& src) : src_(&src) {}
  RandomAccessSource* src_;
  SecretBytes payload_key_;
  std::array<uint8_t, 24> stream_header_{};
  uint64_t payload_offset_ = 0;
  uint64_t padded_length_ = 0;
  BundleMetadata meta_;
  DevicePublicKey sender_;
  uint16_t slot_index_ = 0;
  Hash32 content_hash_{};  // of the payload verified in pass 1
};

// Verifies a bundle for the coordinator X25519 secret key: structure, slot, header MAC, inner
// header, trailer MAC, sender authenticator and expected sender, in the order the spec gives
// (B1-B11, B13; B12 runs in decrypt_to). If expect_sender
// is set, a different (but authentic) sender is refused with kBundleUnexpectedSender.
Result<VerifiedBundle> verify_bundle(RandomAccessSource& src, const SecretBytes& recipient_x25519,
                                     const std::optional<DevicePublicKey>& expect_sender);

}  // namespace satchel
