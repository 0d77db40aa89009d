// TEST ONLY: deterministic randombytes for vector generation (see seeded_random.h).
#include "seeded_random.h"

#include <sodium.h>

#include <cstring>

namespace satchel::testing {
namespace {

uint8_t g_key[crypto_stream_chacha20_ietf_KEYBYTES];
uint64_t g_counter = 0;

const char* name() {
  return "satchel-test-seeded";
}

void buf(void* out, size_t size) {
  uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {};
  std::memcpy(nonce, &g_counter, sizeof g_counter);
  g_counter++;
  crypto_stream_chacha20_ietf(static_cast<uint8_t*>(out), size, nonce, g_key);
}

uint32_t random32() {
  uint32_t v;
  buf(&v, sizeof v);
  return v;
}

void stir() {}
int close_impl() {
  return 0;
}

randombytes_implementation g_impl = {name, random32, stir, nullptr, buf, close_impl};

}  // namespace

void install_seeded_random(std::string_view seed) {
  crypto_generichash(g_key, sizeof g_key, reinterpret_cast<const uint8_t*>(seed.data()),
                     seed.size(), nullptr, 0);
  g_counter = 0;
  randombytes_set_implementation(&g_impl);
  if (sodium_init() < 0) std::abort();
}

}  // namespace satchel::testing
