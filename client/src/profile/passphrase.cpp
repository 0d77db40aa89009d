#include "satchel/client/passphrase.h"

#include <fcntl.h>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>
#include <zxcvbn.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace satchel::client {

extern const char* const kDicewareWords[];
extern const size_t kDicewareWordCount;

namespace {

constexpr size_t kMaxPassphrase = 1024;

// Reads one line byte by byte (so nothing after the newline is consumed from a shared fd).
Result<SecretBytes> read_line(int fd) {
  SecretBytes buf(kMaxPassphrase + 1);
  size_t n = 0;
  for (;;) {
    uint8_t c;
    ssize_t r = ::read(fd, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      return make_error(Errc::kIoError,
                        std::string("cannot read passphrase: ") + std::strerror(errno));
    if (r == 0 || c == '\n') break;
    if (n == kMaxPassphrase)
      return make_error(Errc::kInvalidArgument, "passphrase longer than 1024 bytes");
    buf.data()[n++] = c;
  }
  if (n > 0 && buf.data()[n - 1] == '\r') n--;
  SecretBytes out(n);
  if (n > 0) std::memcpy(out.data(), buf.data(), n);
  return out;
}

}  // namespace

Result<PassphraseSource> PassphraseSource::resolve(int flag_fd) {
  PassphraseSource s;
  if (flag_fd >= 0) {
    s.fd = flag_fd;
    return s;
  }
  if (const char* env = std::getenv("SATCHEL_PASSPHRASE_FD")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end == env || *end != '\0' || v < 0 || v > 65535)
      return make_error(Errc::kInvalidArgument,
                        "SATCHEL_PASSPHRASE_FD must hold a descriptor number");
    s.fd = static_cast<int>(v);
  }
  return s;
}

bool write_to_terminal(const std::string& text) {
  int fd = ::open("/dev/tty", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

Result<SecretBytes> read_passphrase(const PassphraseSource& src, const char* prompt) {
  if (src.fd) return read_line(*src.fd);
  int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty < 0)
    return make_error(
        Errc::kInvalidArgument,
        "no terminal to ask for the passphrase: use --passphrase-fd N or SATCHEL_PASSPHRASE_FD");
  if (::write(tty, prompt, std::strlen(prompt)) < 0) { /* the prompt is a courtesy */
  }
  termios old{};
  bool restore = tcgetattr(tty, &old) == 0;
  if (restore) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  auto r = read_line(tty);
  if (restore) tcsetattr(tty, TCSAFLUSH, &old);
  ::close(tty);
  return r;
}

double passphrase_strength_bits(const SecretBytes& passphrase) {
  SecretBytes z(passphrase.size() + 1);
  if (!passphrase.empty()) std::memcpy(z.data(), passphrase.data(), passphrase.size());
  return ZxcvbnMatch(reinterpret_cast<const char*>(z.data()), nullptr, nullptr);
}

Status check_passphrase_strength(const SecretBytes& passphrase) {
  const double bits = passphrase_strength_bits(passphrase);
  if (bits >= kMinPassphraseBits) return Status::Ok();
  return make_error(Errc::kInvalidArgument,
                    "passphrase too weak (about " + std::to_string(static_cast<int>(bits)) +
                        " bits; at least 50 needed): use the suggested words, or six or more "
                        "random words (--allow-weak overrides)");
}

SecretBytes generate_diceware(int words) {
  crypto_init();
  size_t len = 0;
  std::vector<uint32_t> picks(static_cast<size_t>(words));
  for (auto& p : picks) {
    p = randombytes_uniform(static_cast<uint32_t>(kDicewareWordCount));
    len += std::strlen(kDicewareWords[p]) + 1;
  }
  SecretBytes out(len == 0 ? 0 : len - 1);
  size_t pos = 0;
  for (size_t i = 0; i < picks.size(); i++) {
    const char* w = kDicewareWords[picks[i]];
    size_t n = std::strlen(w);
    if (i > 0) out.data()[pos++] = ' ';
    std::memcpy(out.data() + pos, w, n);
    pos += n;
  }
  wipe(picks.data(), picks.size() * sizeof(uint32_t));
  return out;
}

}  // namespace satchel::client
