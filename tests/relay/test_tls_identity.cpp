// The relay's TLS identity: a self-signed certificate for its names that names nothing else,
// pins that match between certificate and key, and a backup key with a pin of its own.
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <catch2/catch_test_macros.hpp>
#include <fstream>

#include "satchel/relay/tls_identity.h"
#include "store_fixture.h"

using namespace satchel;
using namespace satchel::relay;
using namespace satchel::relay::testing;

TEST_CASE("the generated certificate covers the given names and names nothing else") {
  TempDir dir("tls");
  std::filesystem::create_directories(dir.path);
  const int64_t now = 1'795'000'000;
  auto cert = generate_self_signed_certificate({"relay.example.org", "192.0.2.7", "::1"}, now);
  REQUIRE(cert);
  const std::string cert_path = dir.path + "/cert.pem", key_path = dir.path + "/key.pem";
  std::ofstream(cert_path) << cert->certificate_pem;
  std::ofstream(key_path) << cert->key.private_key_pem;
  CHECK(certificate_pin(cert_path).value() == cert->key.pin);
  CHECK(private_key_pin(key_path).value() == cert->key.pin);

  BIO* bio =
      BIO_new_mem_buf(cert->certificate_pem.data(), static_cast<int>(cert->certificate_pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  REQUIRE(x);
  CHECK(X509_check_host(x, "relay.example.org", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(x, "other.example.org", 0, 0, nullptr) == 0);
  CHECK(X509_check_ip_asc(x, "192.0.2.7", 0) == 1);
  CHECK(X509_check_ip_asc(x, "::1", 0) == 1);
  // Everything printable in it: no product name, no organisation, no time finer than a day.
  BIO* text = BIO_new(BIO_s_mem());
  X509_print(text, x);
  char* data = nullptr;
  const long n = BIO_get_mem_data(text, &data);
  const std::string printed(data, static_cast<size_t>(n));
  BIO_free(text);
  for (const char* word : {"atchel", "ATCHEL", "O = ", "OU = "})
    CHECK(printed.find(word) == std::string::npos);
  CHECK(printed.find("00:00:00 ") != std::string::npos);
  CHECK(X509_get_ext_by_NID(x, NID_subject_alt_name, -1) >= 0);
  X509_free(x);
}

TEST_CASE("a backup key has its own pin, and refusals name the problem") {
  auto a = generate_key();
  auto b = generate_key();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->pin != b->pin);
  CHECK(generate_self_signed_certificate({}, 0).code() == Errc::kInvalidArgument);
  CHECK(generate_self_signed_certificate({"bad name/with slash"}, 0).code() ==
        Errc::kInvalidArgument);
  CHECK(certificate_pin("/nonexistent/cert.pem").code() == Errc::kNotFound);
}
