// TEST ONLY. The field client's key formats as schema/client-database.md specifies them,
// implemented from that text alone (no client code): keyslots v1 and v2, keyring slots, draft
// blobs and version-1 `records` rows. A second implementation that checks the specification, used
// by the block-level forensic scanner on windows of a raw disk image.
#pragma once

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace satchel::forensics {

using Key32 = std::array<uint8_t, 32>;

// ---- Keyslots -------------------------------------------------------------------------------
inline constexpr size_t kSlotSaltSize = 16;
inline constexpr size_t kSlotParamsOffset = 16;  // passes u32 LE, memory KiB u32 LE
inline constexpr size_t kSlotNonceOffset = 24;
inline constexpr size_t kSlotCtOffset = 48;
inline constexpr size_t kSlotSizeV1 = 96;   // ciphertext: database key + tag
inline constexpr size_t kSlotSizeV2 = 128;  // ciphertext: database key || keyring key + tag

struct Argon2Params {
  uint32_t passes = 0, memory_kib = 0;
  bool operator==(const Argon2Params&) const = default;
  auto operator<=>(const Argon2Params&) const = default;
};
// The parameters stored at a slot's offset 16.
Argon2Params slot_params(const uint8_t* slot);
// [2, 64] passes x [64 MiB, 1 GiB], the range a reader accepts.
bool params_sane(Argon2Params p);
// stretched = Argon2id(passphrase, salt, passes, memory, parallelism 1, 32 bytes); false if
// Argon2id could not run (memory).
bool stretch_passphrase(std::string_view passphrase, const uint8_t* salt, Argon2Params p,
                        Key32& stretched);

// What one keyslot (at a fixed place, with one passphrase's stretched value) yields when a
// 32-byte window of the image is tried as its secret.
struct OpenedSlot {
  int version = 0;  // 1 or 2
  int index = 0;    // the slot index in the AD that authenticated
  Key32 db_key{};
  std::optional<Key32> keyring_key;  // v2 only
};

// One candidate slot and one passphrase: tries secrets cheaply (the BLAKE2b state keyed with the
// secret is shared between the two versions and between every SlotTrial, see SecretState).
class SlotTrial {
 public:
  // `slot` must stay valid; `room` is the number of bytes readable from it (v2 needs 128, v1 96).
  SlotTrial(const uint8_t* slot, size_t room, const Key32& stretched);
  // BLAKE2b keyed with a candidate secret, with the common message prefix already absorbed.
  struct SecretState {
    crypto_generichash_state st;
  };
  static void begin(const uint8_t* secret, SecretState& out);
  std::optional<OpenedSlot> try_secret(const SecretState& secret) const;

 private:
  std::optional<OpenedSlot> try_version(const SecretState& secret, int version) const;

  const uint8_t* slot_;
  size_t room_;
  Key32 stretched_;
};

// ---- Generation files -------------------------------------------------------------------------
inline constexpr size_t kKeyslotsPayload = 320;        // slot 0, slot 1, secret 0, secret 1
inline constexpr size_t kKeyslotsGenerationSlot0 = 8;  // the payload follows the counter
// The counter of the `keyslots` generation block starting at `block` if it is valid (its check
// is BLAKE2b-256("satchel keyslots v2" || counter || payload)); `room` bytes are readable.
std::optional<uint64_t> keyslots_generation(const uint8_t* block, size_t room);

// ---- Keyring ----------------------------------------------------------------------------------
inline constexpr size_t kKeyringSlotUsed = 72;  // nonce 24 || ciphertext 32 + tag 16
// Opens a keyring slot starting at `p` with the keyring key: the 32-byte key it holds, if any.
std::optional<Key32> open_keyring_slot(const uint8_t* p, const Key32& keyring_key);

// ---- Draft blobs ------------------------------------------------------------------------------
inline constexpr size_t kBlobNonce = 24;
// Decrypts the XChaCha20-Poly1305 ciphertext of a blob without its tag (the length is unknown):
// the keystream from block 1, as the IETF construction uses block 0 for the Poly1305 key.
void blob_keystream_xor(const uint8_t* nonce, const uint8_t* ct, size_t n, const Key32& key,
                        uint8_t* out);
// Verifies and decrypts a whole blob (nonce || ciphertext || tag) with its AD.
bool open_blob(const uint8_t* blob, size_t len, std::string_view ad, const Key32& key);

// ---- Version-1 `records` rows ----------------------------------------------------------------
// A `records` row (record_id, form_id, form_version, record_key, answers, ...) whose record_id
// value starts at page[id_pos]: where its 32-byte record key and its answers blob are, read from
// the SQLite record header that precedes the value. Rows of version 3 (record_key = X'') and
// other tables give nothing.
struct RecordsRow {
  size_t key_pos = 0;
  size_t answers_pos = 0, answers_len = 0;  // the blob may run past the page (overflow)
};
std::optional<RecordsRow> parse_records_row(const uint8_t* page, size_t page_end, size_t id_pos);
// "satchel draft v1|" || record_id || "|answers"
std::string answers_ad(std::string_view record_id);

}  // namespace satchel::forensics
