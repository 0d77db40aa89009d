// TEST ONLY. A deterministic libsodium randombytes implementation (ChaCha20 keyed by a seed),
// for reproducible test vectors. Never linked into a release binary: a ctest test checks that
// build/bin/satchel does not reference randombytes_set_implementation.
#pragma once

#include <cstdint>
#include <string_view>

namespace satchel::testing {

// Installs the seeded generator; call before any other libsodium use in the process.
void install_seeded_random(std::string_view seed);

}  // namespace satchel::testing
