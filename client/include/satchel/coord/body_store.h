// Bytes of the coordinator's store kept in the profile's chunk pool (schema/client-database.md,
// "Coordinator store"): the body of an imported bundle, or a quarantined bundle as received.
// A body is a coord_bodies row (its random key) and one coord_body_chunks row per sealed 64 KiB
// chunk; it is written in constant memory inside the caller's transaction and counts only once
// that transaction commits (cells of an abandoned body are free again at the next open).
#pragma once

#include <cstdint>
#include <optional>

#include "satchel/client/profile.h"
#include "satchel/crypto/io.h"

namespace satchel::coord {

class BodyWriter final : public StagingSink {
 public:
  // Starts a body; a transaction must be open on the profile's database.
  static Result<BodyWriter> begin(client::Profile& profile);
  BodyWriter(BodyWriter&&) noexcept = default;
  BodyWriter& operator=(BodyWriter&&) = delete;
  // Wipes the plaintext not yet sealed.
  ~BodyWriter() override;
  Status write(ByteView data) override;
  // Writes the last chunk, syncs the pool and records the size (the caller then commits).
  Status commit() override;
  // Stops writing; the caller rolls its transaction back.
  void discard() override { discarded_ = true; }
  int64_t body_id() const { return body_id_; }
  uint64_t size() const { return size_; }

 private:
  BodyWriter(client::Profile& p, int64_t id, SecretBytes key, client::Statement insert);
  Status flush();
  client::Profile* profile_;
  int64_t body_id_;
  SecretBytes key_;
  client::Statement insert_;  // one chunk row, prepared once
  int64_t seq_ = 0;
  uint64_t size_ = 0;
  Bytes buf_;
  bool discarded_ = false;
};

// Reads a committed body, chunk by chunk (each chunk's tag is checked as it is read).
class BodyReader final : public ByteSource, public RandomAccessSource {
 public:
  static Result<BodyReader> open(client::Profile& profile, int64_t body_id);
  BodyReader(BodyReader&&) noexcept = default;
  BodyReader& operator=(BodyReader&&) = delete;
  // Wipes the plaintext chunk it holds.
  ~BodyReader() override;
  uint64_t size() const override { return size_; }
  Status read_at(uint64_t offset, std::span<uint8_t> out) override;
  Result<size_t> read(std::span<uint8_t> out) override;

 private:
  BodyReader(client::Profile& p, int64_t id, SecretBytes key, uint64_t size)
      : profile_(&p), body_id_(id), key_(std::move(key)), size_(size) {}
  Status load(int64_t seq);
  client::Profile* profile_;
  int64_t body_id_;
  SecretBytes key_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::optional<int64_t> loaded_;
  Bytes chunk_;  // the plaintext of chunk *loaded_
};

// Copies a whole source into a new body (inside the caller's transaction); returns its id.
Result<int64_t> store_body(client::Profile& profile, ByteSource& src);
// Deletes a body's rows (inside the caller's transaction); its cells are free at the next open.
Status delete_body(client::Profile& profile, int64_t body_id);

}  // namespace satchel::coord
