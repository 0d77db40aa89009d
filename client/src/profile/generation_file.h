// A generation file: one fixed-size secret payload in a file of two 4096-byte blocks, updated
// only in place so that no earlier payload stays readable anywhere on the disk
// (schema/client-database.md, "Generation files").
#pragma once

#include <string>
#include <string_view>

#include "profile/disk_file.h"
#include "satchel/crypto/secret.h"

namespace satchel::client {

class GenerationFile {
 public:
  static constexpr size_t kBlock = 4096;
  static constexpr size_t kFileSize = 2 * kBlock;
  static constexpr size_t kMaxPayload = kBlock - 8 - 32;

  // Creates path (which must not exist): the payload in block 0 under a random counter, random
  // bytes in block 1; synced, with the directory.
  static Result<GenerationFile> create(const std::string& path, std::string_view domain,
                                       const SecretBytes& payload);
  // Opens path and reads its current generation, changing nothing. If an interrupted replace
  // left two valid generations, the newer is current and has_stale_spare() is true: call
  // erase_spare() once the payload has proved itself (the check is not keyed, so anyone who
  // can write the file can forge a "newer" block). No valid generation, or two that do not
  // follow each other: kIoError (damaged or wiped).
  static Result<GenerationFile> open(const std::string& path, std::string_view domain,
                                     size_t payload_size);

  const SecretBytes& payload() const { return payload_; }
  bool has_stale_spare() const { return stale_spare_; }

  // Writes `payload` as the next generation into the other block and syncs, then overwrites the
  // previous generation with random bytes and syncs. After a crash, open() sees either the old
  // or the new payload, never neither.
  Status replace(const SecretBytes& payload);

  // Overwrites the block not holding the current generation with random bytes and syncs.
  Status erase_spare();
  // Overwrites the whole file with random bytes and syncs: nothing of any generation remains.
  Status destroy();

  // Turns an older, smaller key file at path (at most one block) into a generation file in
  // place: the payload into block 1 (the file grows to kFileSize), sync, then block 0 — and with
  // it every old byte — overwritten with random bytes, sync. A crash in between leaves a file
  // that open() reads (block 1 valid); erase_spare() then finishes the job.
  static Status overwrite_v1(const std::string& path, std::string_view domain,
                             const SecretBytes& payload);

 private:
  GenerationFile(DiskFile file, std::string domain, SecretBytes payload, size_t block,
                 uint64_t counter)
      : file_(std::move(file)),
        domain_(std::move(domain)),
        payload_(std::move(payload)),
        block_(block),
        counter_(counter) {}
  Status write_block(size_t block, uint64_t counter, const SecretBytes& payload);

  DiskFile file_;
  std::string domain_;
  SecretBytes payload_;
  size_t block_ = 0;  // which block holds the current generation
  uint64_t counter_ = 0;
  bool stale_spare_ = false;  // the other block holds an older valid generation
};

}  // namespace satchel::client
