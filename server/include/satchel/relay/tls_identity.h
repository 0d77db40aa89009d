// The relay's TLS identity: a self-signed certificate for its names (EC P-256, nothing in it
// names Satchel), a backup key kept aside for the roster's backup pin, SPKI SHA-256 pins, and
// the TLS 1.3-only server context built from them.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "satchel/crypto/bundle.h"
#include "satchel/crypto/status.h"

namespace satchel::relay {

struct GeneratedKey {
  std::string private_key_pem;  // PKCS#8, unencrypted: store with mode 0600
  Hash32 pin{};                 // SHA-256 of the DER SubjectPublicKeyInfo
};

struct GeneratedCertificate {
  std::string certificate_pem;
  GeneratedKey key;
};

// A fresh EC P-256 key.
Result<GeneratedKey> generate_key();
// A self-signed X.509 v3 certificate for `names` (DNS names, onion names or IP addresses, at
// least one): subject CN = the first name, subjectAltName = all of them, valid from midnight UTC
// of the day before `now` for ten years, serial random.
Result<GeneratedCertificate> generate_self_signed_certificate(const std::vector<std::string>& names,
                                                              int64_t now);
// The same kind of certificate for the existing private key in the PEM file at
// `private_key_path` (a backup key brought back to become the relay's key); `key` in the result
// is that key again.
Result<GeneratedCertificate> self_signed_certificate_for_key(const std::string& private_key_path,
                                                             const std::vector<std::string>& names,
                                                             int64_t now);
// The DNS names and IP addresses of the first certificate's subjectAltName, in order; refused
// when it has none.
Result<std::vector<std::string>> certificate_names(const std::string& certificate_path);
// The SPKI pin of the first certificate in a PEM file.
Result<Hash32> certificate_pin(const std::string& certificate_path);
// The SPKI pin of the public half of a PEM private key.
Result<Hash32> private_key_pin(const std::string& private_key_path);

// Configures a server context: TLS 1.3 only, the certificate chain and key loaded and checked
// against each other, no session tickets (they would let the relay link a client's connections).
Status configure_server_tls(SSL_CTX& ctx, const std::string& certificate_path,
                            const std::string& private_key_path);

}  // namespace satchel::relay
