#include "profile/generation_file.h"

#include "profile/little_endian.h"

#include <sodium.h>

#include <cstring>
#include <filesystem>

namespace satchel::client {
namespace {

// check = BLAKE2b-256(domain || counter || payload), written after the payload.
void block_check(std::string_view domain, const uint8_t* counter_and_payload, size_t payload_size,
                 uint8_t out[32]) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(domain.data()), domain.size());
  crypto_generichash_update(&st, counter_and_payload, 8 + payload_size);
  crypto_generichash_final(&st, out, 32);
  sodium_memzero(&st, sizeof st);
}

bool block_valid(std::string_view domain, const uint8_t* block, size_t payload_size) {
  uint8_t check[32];
  block_check(domain, block, payload_size, check);
  return sodium_memcmp(check, block + 8 + payload_size, 32) == 0;
}

}  // namespace

Status GenerationFile::write_block(size_t block, uint64_t counter, const SecretBytes& payload) {
  SecretBytes image(kBlock);
  randombytes_buf(image.data(), kBlock);
  put_u64(image.data(), counter);
  std::memcpy(image.data() + 8, payload.data(), payload.size());
  block_check(domain_, image.data(), payload.size(), image.data() + 8 + payload.size());
  SATCHEL_TRY(file_.write_at(block * kBlock, image.span()));
  return file_.sync();
}

Result<GenerationFile> GenerationFile::create(const std::string& path, std::string_view domain,
                                              const SecretBytes& payload) {
  if (payload.size() > kMaxPayload)
    return make_error(Errc::kInternal, "generation payload too large");
  auto file = DiskFile::create(path, 0600);
  if (!file) return file.error();
  GenerationFile g(std::move(file.value()), std::string(domain), payload.clone(), 0,
                   randombytes_random() | (uint64_t{randombytes_random()} << 32));
  // Block 1 first, so the file reaches its full size before the generation is written.
  SATCHEL_TRY(g.file_.randomize(kBlock, kBlock));
  SATCHEL_TRY(g.write_block(0, g.counter_, payload));
  SATCHEL_TRY(sync_directory(std::filesystem::path(path).parent_path().string()));
  return g;
}

Result<GenerationFile> GenerationFile::open(const std::string& path, std::string_view domain,
                                            size_t payload_size) {
  auto file = DiskFile::open(path);
  if (!file) return file.error();
  auto size = file->size();
  if (!size) return size.error();
  if (*size != kFileSize || payload_size > kMaxPayload)
    return make_error(Errc::kIoError, path + " has the wrong size (damaged or wiped profile)");
  SecretBytes image(kFileSize);
  SATCHEL_TRY(file->read_at(0, image.span()));
  const uint8_t* blocks[2] = {image.data(), image.data() + kBlock};
  const bool valid[2] = {block_valid(domain, blocks[0], payload_size),
                         block_valid(domain, blocks[1], payload_size)};
  size_t current;
  if (valid[0] && valid[1]) {
    const uint64_t c0 = get_u64(blocks[0]), c1 = get_u64(blocks[1]);
    if (c1 == c0 + 1)
      current = 1;
    else if (c0 == c1 + 1)
      current = 0;
    else
      return make_error(Errc::kIoError,
                        path + " holds two unrelated generations (damaged profile)");
  } else if (valid[0] || valid[1]) {
    current = valid[0] ? 0 : 1;
  } else {
    return make_error(Errc::kIoError, path +
                                          " holds no valid key generation (damaged or wiped "
                                          "profile)");
  }
  SecretBytes payload(payload_size);
  std::memcpy(payload.data(), blocks[current] + 8, payload_size);
  GenerationFile g(std::move(file.value()), std::string(domain), std::move(payload), current,
                   get_u64(blocks[current]));
  g.stale_spare_ = valid[0] && valid[1];
  return g;
}

Status GenerationFile::replace(const SecretBytes& payload) {
  if (payload.size() != payload_.size())
    return make_error(Errc::kInternal, "generation payload changed size");
  const size_t next = 1 - block_;
  SATCHEL_TRY(write_block(next, counter_ + 1, payload));
  SATCHEL_TRY(file_.randomize(block_ * kBlock, kBlock));
  SATCHEL_TRY(file_.sync());
  block_ = next;
  counter_ += 1;
  payload_ = payload.clone();
  return Status::Ok();
}

Status GenerationFile::erase_spare() {
  SATCHEL_TRY(file_.randomize((1 - block_) * kBlock, kBlock));
  SATCHEL_TRY(file_.sync());
  stale_spare_ = false;
  return Status::Ok();
}

Status GenerationFile::overwrite_v1(const std::string& path, std::string_view domain,
                                    const SecretBytes& payload) {
  auto file = DiskFile::open(path);
  if (!file) return file.error();
  auto size = file->size();
  if (!size) return size.error();
  if (*size > kBlock || payload.size() > kMaxPayload)
    return make_error(Errc::kInternal, path + " is not a one-block key file");
  GenerationFile g(std::move(file.value()), std::string(domain), payload.clone(), 1,
                   randombytes_random() | (uint64_t{randombytes_random()} << 32));
  SATCHEL_TRY(g.write_block(1, g.counter_, payload));
  return g.erase_spare();
}

Status GenerationFile::destroy() {
  SATCHEL_TRY(file_.randomize(0, kFileSize));
  return file_.sync();
}

}  // namespace satchel::client
