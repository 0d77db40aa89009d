// Encryption of draft contents under a per-record key: nonce(24) || XChaCha20-Poly1305
// ciphertext, with associated data naming what the blob is and where it belongs.
#pragma once

#include <string_view>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/secret.h"
#include "satchel/crypto/status.h"

namespace satchel::client {

Bytes seal_blob(const SecretBytes& key, std::string_view ad, ByteView plaintext);
// Decrypts into out (resized); kIoError if the blob was altered or belongs elsewhere.
Status open_blob(const SecretBytes& key, std::string_view ad, ByteView blob, Bytes& out);

}  // namespace satchel::client
