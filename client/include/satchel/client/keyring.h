// The keyring: one 32-byte key per draft and per outbox entry, kept outside SQLite in a
// preallocated file of 128-byte slots that is only ever overwritten in place, so destroying a
// key overwrites its only copy (schema/client-database.md, "Keyring").
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "satchel/crypto/secret.h"
#include "satchel/crypto/status.h"

namespace satchel::client {

class DiskFile;

class Keyring {
 public:
  static constexpr size_t kSlotSize = 128;
  static constexpr uint32_t kInitialCapacity = 1024;
  static constexpr uint32_t kMaxCapacity = 65536;

  // Creates the keyring file (which must not exist) with kInitialCapacity random slots, synced.
  static Status create(const std::string& path);
  // Opens and locks the keyring (another process holding it: kIoError "in use"), and
  // reads which slots hold a key under ring_key.
  static Result<Keyring> open(const std::string& path, const SecretBytes& ring_key);

  Keyring(Keyring&&) noexcept;
  Keyring& operator=(Keyring&&) noexcept;
  ~Keyring();

  struct Added {
    uint32_t slot;
    SecretBytes key;
  };
  // Draws a random key and stores it, synced, in a free slot chosen at random; grows the file
  // (doubling, up to kMaxCapacity) when every slot is taken.
  Result<Added> add();
  // The key in `slot`; kNotFound if the slot holds none (destroyed, or never written).
  Result<SecretBytes> key(uint32_t slot) const;
  // Overwrites the slot with random bytes and syncs. Destroying a free slot is harmless.
  Status destroy(uint32_t slot);
  // Destroys every slot holding a key whose index is not in `live` (what a crash left between
  // writing a key and committing its row, or between deleting a row and destroying its key).
  // Returns how many were destroyed.
  // Every slot in `live` also counts as taken from now on, even one that holds no readable key
  // (a damaged slot that a row still names is never handed out again).
  Result<size_t> destroy_unlisted(const std::set<uint32_t>& live);

  uint32_t capacity() const { return capacity_; }
  size_t keys_held() const { return used_.size(); }

 private:
  Keyring(std::unique_ptr<DiskFile> file, SecretBytes ring_key, uint32_t capacity,
          std::set<uint32_t> used);
  Status grow();

  std::unique_ptr<DiskFile> file_;
  SecretBytes ring_key_;
  uint32_t capacity_ = 0;
  std::set<uint32_t> used_;
};

}  // namespace satchel::client
