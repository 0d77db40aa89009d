#include "satchel/client/keyring.h"

#include <sodium.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string_view>

#include "profile/disk_file.h"

namespace satchel::client {
namespace {

constexpr std::string_view kAd = "satchel keyring v1";
constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kSealed = kNonce + 32 + crypto_aead_xchacha20poly1305_ietf_ABYTES;  // 72

const uint8_t* ad() {
  return reinterpret_cast<const uint8_t*>(kAd.data());
}

// Opens one slot image into key; false if it holds no key under ring_key.
bool open_slot(const uint8_t* slot, const SecretBytes& ring_key, uint8_t key[32]) {
  return crypto_aead_xchacha20poly1305_ietf_decrypt(key, nullptr, nullptr, slot + kNonce,
                                                    kSealed - kNonce, ad(), kAd.size(), slot,
                                                    ring_key.data()) == 0;
}

}  // namespace

Keyring::Keyring(std::unique_ptr<DiskFile> file, SecretBytes ring_key, uint32_t capacity,
                 std::set<uint32_t> used)
    : file_(std::move(file)),
      ring_key_(std::move(ring_key)),
      capacity_(capacity),
      used_(std::move(used)) {}
Keyring::Keyring(Keyring&&) noexcept = default;
Keyring& Keyring::operator=(Keyring&&) noexcept = default;
Keyring::~Keyring() = default;

Status Keyring::create(const std::string& path) {
  auto file = DiskFile::create(path, 0600);
  if (!file) return file.error();
  SATCHEL_TRY(file->randomize(0, uint64_t{kInitialCapacity} * kSlotSize));
  SATCHEL_TRY(file->sync());
  return sync_directory(std::filesystem::path(path).parent_path().string());
}

Result<Keyring> Keyring::open(const std::string& path, const SecretBytes& ring_key) {
  if (ring_key.size() != 32) return make_error(Errc::kInternal, "keyring key must be 32 bytes");
  auto file = DiskFile::open(path);
  if (!file) return file.error();
  auto locked = file->try_lock();
  if (!locked) return locked.error();
  if (!*locked)
    return make_error(Errc::kIoError, "the profile is in use by another satchel process");
  auto size = file->size();
  if (!size) return size.error();
  const uint64_t slots = *size / kSlotSize;
  if (*size % (32 * kSlotSize) != 0 || slots == 0 || slots > kMaxCapacity)
    return make_error(Errc::kIoError, path + " has a wrong size (damaged profile)");
  std::set<uint32_t> used;
  std::vector<uint8_t> block(32 * kSlotSize);
  SecretBytes key(32);
  for (uint64_t first = 0; first < slots; first += 32) {
    SATCHEL_TRY(file->read_at(first * kSlotSize, block));
    for (size_t i = 0; i < 32; i++)
      if (open_slot(block.data() + i * kSlotSize, ring_key, key.data()))
        used.insert(static_cast<uint32_t>(first + i));
  }
  return Keyring(std::make_unique<DiskFile>(std::move(file.value())), ring_key.clone(),
                 static_cast<uint32_t>(slots), std::move(used));
}

Status Keyring::grow() {
  if (capacity_ >= kMaxCapacity)
    return make_error(Errc::kIoError,
                      "the keyring is full (" + std::to_string(capacity_) +
                          " drafts and unsent bundles): finalize, send or delete some first");
  const uint32_t grown = std::min(capacity_ * 2, kMaxCapacity);
  SATCHEL_TRY(
      file_->randomize(uint64_t{capacity_} * kSlotSize, uint64_t{grown - capacity_} * kSlotSize));
  SATCHEL_TRY(file_->sync());
  capacity_ = grown;
  return Status::Ok();
}

Result<Keyring::Added> Keyring::add() {
  if (used_.size() >= capacity_) SATCHEL_TRY(grow());
  // A uniformly random free slot: the n-th free one for a random n.
  uint32_t n = randombytes_uniform(capacity_ - static_cast<uint32_t>(used_.size()));
  uint32_t slot = 0;
  for (;; slot++) {
    if (used_.count(slot)) continue;
    if (n == 0) break;
    n--;
  }
  Added out{slot, SecretBytes(32)};
  randombytes_buf(out.key.data(), 32);
  uint8_t image[kSlotSize];
  randombytes_buf(image, sizeof image);
  crypto_aead_xchacha20poly1305_ietf_encrypt(image + kNonce, nullptr, out.key.data(), 32, ad(),
                                             kAd.size(), nullptr, image, ring_key_.data());
  Status s = file_->write_at(uint64_t{slot} * kSlotSize, ByteView(image, sizeof image));
  if (s) s = file_->sync();
  wipe(image, sizeof image);
  if (!s) return s.error();
  used_.insert(slot);
  return out;
}

Result<SecretBytes> Keyring::key(uint32_t slot) const {
  if (slot >= capacity_ || !used_.count(slot))
    return make_error(Errc::kNotFound, "keyring slot " + std::to_string(slot) + " holds no key");
  uint8_t image[kSlotSize];
  SATCHEL_TRY(file_->read_at(uint64_t{slot} * kSlotSize, std::span<uint8_t>(image, kSlotSize)));
  SecretBytes key(32);
  const bool ok = open_slot(image, ring_key_, key.data());
  wipe(image, sizeof image);
  if (!ok)
    return make_error(Errc::kIoError,
                      "keyring slot " + std::to_string(slot) + " is damaged (its key is lost)");
  return key;
}

Status Keyring::destroy(uint32_t slot) {
  if (slot >= capacity_) return make_error(Errc::kInternal, "keyring slot out of range");
  SATCHEL_TRY(file_->randomize(uint64_t{slot} * kSlotSize, kSlotSize));
  SATCHEL_TRY(file_->sync());
  used_.erase(slot);
  return Status::Ok();
}

Result<size_t> Keyring::destroy_unlisted(const std::set<uint32_t>& live) {
  std::vector<uint32_t> stale;
  for (uint32_t s : used_)
    if (!live.count(s)) stale.push_back(s);
  for (uint32_t s : stale) {
    SATCHEL_TRY(file_->randomize(uint64_t{s} * kSlotSize, kSlotSize));
    used_.erase(s);
  }
  if (!stale.empty()) SATCHEL_TRY(file_->sync());
  for (uint32_t s : live)
    if (s < capacity_) used_.insert(s);
  return stale.size();
}

}  // namespace satchel::client
