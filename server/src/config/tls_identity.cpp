// Key and certificate generation and SPKI pins with OpenSSL 3; the TLS 1.3 server context.
#include "satchel/relay/tls_identity.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "satchel/crypto/sha256.h"
#include "satchel/relay/clock.h"

namespace satchel::relay {

namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
template <class T>
using Owned = std::unique_ptr<T, Free>;

Error tls_error(const std::string& what) {
  return make_error(Errc::kIoError, what);
}

bool is_host_name(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '.'))
      return false;
  return true;
}

Result<Hash32> pin_of(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  if (n <= 0) return tls_error("cannot encode a public key");
  Hash32 pin = Sha256::digest(ByteView(der, static_cast<size_t>(n)));
  OPENSSL_free(der);
  return pin;
}

Result<std::string> bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  if (n <= 0) return tls_error("empty PEM output");
  return std::string(data, static_cast<size_t>(n));
}

Result<Owned<EVP_PKEY>> new_p256_key() {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return tls_error("cannot generate an EC P-256 key");
  return key;
}

Result<GeneratedKey> describe_key(EVP_PKEY* key) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return tls_error("cannot encode a private key");
  auto pem = bio_text(bio.get());
  if (!pem) return pem.error();
  auto pin = pin_of(key);
  if (!pin) return pin.error();
  return GeneratedKey{std::move(pem.value()), *pin};
}

}  // namespace

Result<GeneratedKey> generate_key() {
  auto key = new_p256_key();
  if (!key) return key.error();
  return describe_key(key->get());
}

namespace {

// A self-signed certificate for `key` (see generate_self_signed_certificate).
Result<GeneratedCertificate> certify(EVP_PKEY* key, const std::vector<std::string>& names,
                                     int64_t now) {
  if (names.empty()) return make_error(Errc::kInvalidArgument, "give at least one --name");
  Owned<X509> cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1)
    return tls_error("cannot create a certificate");

  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) return tls_error("no randomness");
  serial_bytes[0] &= 0x7f;  // positive
  Owned<BIGNUM> serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())))
    return tls_error("cannot set the serial number");

  // Day-rounded validity: the certificate does not reveal when it was made to the second.
  const time_t not_before = static_cast<time_t>((day_of(now) - 1) * kSecondsPerDay);
  if (!ASN1_TIME_set(X509_getm_notBefore(cert.get()), not_before) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                     not_before + static_cast<time_t>(3653 * kSecondsPerDay)))
    return tls_error("cannot set the validity");

  X509_NAME* subject = X509_get_subject_name(cert.get());
  const std::string& cn = names.front();
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.data()),
                                 static_cast<int>(cn.size()), -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), subject) != 1)
    return tls_error("cannot set the subject name");

  Owned<GENERAL_NAMES> sans(GENERAL_NAMES_new());
  if (!sans) return tls_error("out of memory");
  for (const std::string& name : names) {
    unsigned char ip[16];
    int ip_len = 0;
    if (inet_pton(AF_INET, name.c_str(), ip) == 1) ip_len = 4;
    if (inet_pton(AF_INET6, name.c_str(), ip) == 1) ip_len = 16;
    if (ip_len == 0 && !is_host_name(name))
      return make_error(Errc::kInvalidArgument,
                        "a --name is a host name or an IP address, 1..253 characters");
    // Owned by the stack from here, so no exit below leaks it.
    GENERAL_NAME* gn = GENERAL_NAME_new();
    if (!gn || sk_GENERAL_NAME_push(sans.get(), gn) <= 0) {
      GENERAL_NAME_free(gn);
      return tls_error("out of memory");
    }
    ASN1_STRING* value = ip_len > 0 ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
    if (!value) return tls_error("out of memory");
    GENERAL_NAME_set0_value(gn, ip_len > 0 ? GEN_IPADD : GEN_DNS, value);
    const bool set = ip_len > 0
                         ? ASN1_OCTET_STRING_set(value, ip, ip_len) == 1
                         : ASN1_STRING_set(value, name.data(), static_cast<int>(name.size())) == 1;
    if (!set) return tls_error("out of memory");
  }
  if (X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, sans.get(), 0, 0) != 1)
    return tls_error("cannot add subjectAltName");
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                                   std::pair{NID_key_usage, "critical,digitalSignature"},
                                   std::pair{NID_ext_key_usage, "serverAuth"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    if (!ext || X509_add_ext(cert.get(), ext, -1) != 1) {
      X509_EXTENSION_free(ext);
      return tls_error("cannot add an extension");
    }
    X509_EXTENSION_free(ext);
  }
  if (X509_set_pubkey(cert.get(), key) != 1 || X509_sign(cert.get(), key, EVP_sha256()) <= 0)
    return tls_error("cannot sign the certificate");

  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert.get()) != 1)
    return tls_error("cannot encode the certificate");
  auto pem = bio_text(bio.get());
  if (!pem) return pem.error();
  auto described = describe_key(key);
  if (!described) return described.error();
  return GeneratedCertificate{std::move(pem.value()), std::move(described.value())};
}

Result<Owned<EVP_PKEY>> read_private_key(const std::string& path) {
  Owned<BIO> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return make_error(Errc::kNotFound, "cannot read " + path);
  Owned<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return make_error(Errc::kInvalidArgument, path + ": no PEM private key");
  return key;
}

}  // namespace

Result<GeneratedCertificate> generate_self_signed_certificate(const std::vector<std::string>& names,
                                                              int64_t now) {
  auto key = new_p256_key();
  if (!key) return key.error();
  return certify(key->get(), names, now);
}

Result<GeneratedCertificate> self_signed_certificate_for_key(const std::string& private_key_path,
                                                             const std::vector<std::string>& names,
                                                             int64_t now) {
  auto key = read_private_key(private_key_path);
  if (!key) return key.error();
  return certify(key->get(), names, now);
}

Result<std::vector<std::string>> certificate_names(const std::string& certificate_path) {
  Owned<BIO> bio(BIO_new_file(certificate_path.c_str(), "r"));
  if (!bio) return make_error(Errc::kNotFound, "cannot read " + certificate_path);
  Owned<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return make_error(Errc::kInvalidArgument, certificate_path + ": no PEM certificate");
  Owned<GENERAL_NAMES> sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  std::vector<std::string> out;
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); i++) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
    if (gn->type == GEN_DNS) {
      const ASN1_IA5STRING* s = gn->d.dNSName;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = gn->d.iPAddress;
      const int len = ASN1_STRING_length(s);
      char text[INET6_ADDRSTRLEN] = {};
      if ((len == 4 || len == 16) &&
          inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), text, sizeof text))
        out.emplace_back(text);
    }
  }
  if (out.empty())
    return make_error(Errc::kInvalidArgument,
                      certificate_path + ": the certificate names no host (give --name)");
  return out;
}

Result<Hash32> certificate_pin(const std::string& certificate_path) {
  Owned<BIO> bio(BIO_new_file(certificate_path.c_str(), "r"));
  if (!bio) return make_error(Errc::kNotFound, "cannot read " + certificate_path);
  Owned<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return make_error(Errc::kInvalidArgument, certificate_path + ": no PEM certificate");
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (!key) return make_error(Errc::kInvalidArgument, certificate_path + ": no public key");
  return pin_of(key);
}

Result<Hash32> private_key_pin(const std::string& private_key_path) {
  auto key = read_private_key(private_key_path);
  if (!key) return key.error();
  return pin_of(key->get());
}

Status configure_server_tls(SSL_CTX& ctx, const std::string& certificate_path,
                            const std::string& private_key_path) {
  if (SSL_CTX_set_min_proto_version(&ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(&ctx, TLS1_3_VERSION) != 1)
    return tls_error("cannot restrict TLS to version 1.3");
  if (SSL_CTX_use_certificate_chain_file(&ctx, certificate_path.c_str()) != 1)
    return make_error(Errc::kInvalidArgument, "cannot load the certificate " + certificate_path);
  if (SSL_CTX_use_PrivateKey_file(&ctx, private_key_path.c_str(), SSL_FILETYPE_PEM) != 1)
    return make_error(Errc::kInvalidArgument, "cannot load the private key " + private_key_path);
  if (SSL_CTX_check_private_key(&ctx) != 1)
    return make_error(Errc::kInvalidArgument, "the private key does not match the certificate");
  SSL_CTX_set_num_tickets(&ctx, 0);
  SSL_CTX_set_options(&ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(&ctx, SSL_SESS_CACHE_OFF);
  return Status::Ok();
}

}  // namespace satchel::relay
