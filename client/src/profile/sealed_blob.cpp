#include "satchel/client/sealed_blob.h"

#include <sodium.h>

namespace satchel::client {

namespace {
constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
}  // namespace

Bytes seal_blob(const SecretBytes& key, std::string_view ad, ByteView plaintext) {
  Bytes out(kNonce + plaintext.size() + kTag);
  randombytes_buf(out.data(), kNonce);
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out.data() + kNonce, nullptr, plaintext.data(), plaintext.size(),
      reinterpret_cast<const uint8_t*>(ad.data()), ad.size(), nullptr, out.data(), key.data());
  return out;
}

Status open_blob(const SecretBytes& key, std::string_view ad, ByteView blob, Bytes& out) {
  if (blob.size() < kNonce + kTag)
    return make_error(Errc::kIoError, "stored draft data is damaged");
  out.resize(blob.size() - kNonce - kTag);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          out.data(), nullptr, nullptr, blob.data() + kNonce, blob.size() - kNonce,
          reinterpret_cast<const uint8_t*>(ad.data()), ad.size(), blob.data(), key.data()) != 0) {
    out.clear();
    return make_error(Errc::kIoError, "stored draft data is damaged or misplaced");
  }
  return Status::Ok();
}

}  // namespace satchel::client
