// Passphrases: read without echo from the terminal or from a file descriptor (never argv or the
// environment), judged by zxcvbn, and generated as diceware from the EFF large wordlist.
#pragma once

#include <optional>
#include <string>

#include "satchel/crypto/secret.h"
#include "satchel/crypto/status.h"

namespace satchel::client {

// Where passphrases come from: a descriptor (--passphrase-fd N or SATCHEL_PASSPHRASE_FD=N,
// which holds only the number), else the controlling terminal.
struct PassphraseSource {
  std::optional<int> fd;
  // Resolves the flag (when >= 0) or the environment variable; fails on a malformed number.
  static Result<PassphraseSource> resolve(int flag_fd);
};

// Reads one passphrase (one line; at most 1024 bytes; the newline is dropped) into secret
// memory. On a terminal, prompt goes to the terminal and echo is off while typing.
Result<SecretBytes> read_passphrase(const PassphraseSource& src, const char* prompt);

inline constexpr double kMinPassphraseBits = 50.0;

// zxcvbn's entropy estimate, in bits.
double passphrase_strength_bits(const SecretBytes& passphrase);

// Refuses passphrases under kMinPassphraseBits with a message saying how to do better.
Status check_passphrase_strength(const SecretBytes& passphrase);

// `words` random words from the EFF large wordlist (7776 words, 12.9 bits each), space-separated.
SecretBytes generate_diceware(int words);

// Writes to the controlling terminal (not stdout, so it stays out of pipes and logs).
bool write_to_terminal(const std::string& text);

}  // namespace satchel::client
