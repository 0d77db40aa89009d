#include "satchel/crypto/published_document.h"

#include <sodium.h>

#include <cstring>

namespace satchel {
namespace {

constexpr uint8_t kSealedVersion = 1;
constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;

// A 32-byte subkey of the publication key for one purpose: BLAKE2b-256 keyed by the
// publication key over the purpose's context string.
SecretBytes subkey(const SecretBytes& publication_key, std::string_view context) {
  crypto_init();
  SecretBytes k(32);
  crypto_generichash(k.data(), 32, as_bytes(context).data(), context.size(), publication_key.data(),
                     publication_key.size());
  return k;
}

// u8 kind || u64 number: what a name and a sealed document are bound to.
Bytes slot(PublishedKind kind, uint64_t number) {
  WireWriter w;
  w.u8(static_cast<uint8_t>(kind));
  w.u64(number);
  return w.take();
}

Error sealed_err(const std::string& what) {
  return make_error(Errc::kDocMalformed, "published document: " + what);
}

}  // namespace

std::string published_document_name(const SecretBytes& publication_key, PublishedKind kind,
                                    uint64_t number) {
  SecretBytes k = subkey(publication_key, "satchel published name v1");
  Bytes m = slot(kind, number);
  uint8_t h[32];
  crypto_generichash(h, sizeof h, m.data(), m.size(), k.data(), k.size());
  return to_base64url(ByteView(h, sizeof h));
}

Result<Bytes> seal_published_document(const SecretBytes& publication_key, PublishedKind kind,
                                      uint64_t number, ByteView document) {
  if (publication_key.size() != 32)
    return make_error(Errc::kInvalidArgument, "the publication key must be 32 bytes");
  SecretBytes k = subkey(publication_key, "satchel published document v1");
  Bytes ad = slot(kind, number);
  Bytes out(1 + kNonce + document.size() + kTag);
  out[0] = kSealedVersion;
  randombytes_buf(out.data() + 1, kNonce);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + 1 + kNonce, &clen, document.data(),
                                             document.size(), ad.data(), ad.size(), nullptr,
                                             out.data() + 1, k.data());
  return out;
}

Result<SecretBytes> open_published_document(const SecretBytes& publication_key, PublishedKind kind,
                                            uint64_t number, ByteView sealed) {
  if (publication_key.size() != 32)
    return make_error(Errc::kInvalidArgument, "the publication key must be 32 bytes");
  if (sealed.empty()) return sealed_err("empty");
  if (sealed[0] != kSealedVersion)
    return make_error(Errc::kDocUnsupportedVersion,
                      "published document: version " + std::to_string(sealed[0]));
  if (sealed.size() < 1 + kNonce + kTag) return sealed_err("truncated");
  SecretBytes k = subkey(publication_key, "satchel published document v1");
  Bytes ad = slot(kind, number);
  SecretBytes plain(sealed.size() - 1 - kNonce - kTag);
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          plain.data(), &plen, nullptr, sealed.data() + 1 + kNonce, sealed.size() - 1 - kNonce,
          ad.data(), ad.size(), sealed.data() + 1, k.data()) != 0)
    return make_error(Errc::kDocBadSignature,
                      "published document: does not open under the publication key for its name "
                      "(altered, or put under another name)");
  return plain;
}

}  // namespace satchel
