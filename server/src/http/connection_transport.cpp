// Plain and TLS transports (see connection_transport.h).
#include "http/connection_transport.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace satchel::relay {

namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

void set_nonblocking(int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Reads and drops what the peer still sends, within the bounds, then closes the socket.
// Returns the bytes dropped.
uint64_t drain_and_close(int fd, bool drain, size_t drain_bytes, milliseconds drain_time) {
  size_t dropped = 0;
  if (drain) {
    ::shutdown(fd, SHUT_WR);
    const SteadyTime until = steady_clock::now() + drain_time;
    std::array<char, 16 * 1024> sink;
    while (dropped < drain_bytes && wait_for_socket(fd, POLLIN, until) > 0) {
      const ssize_t n = ::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT);
      if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) break;
      if (n > 0) dropped += static_cast<size_t>(n);
    }
  }
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
  return dropped;
}

class PlainTransport final : public ConnectionTransport {
 public:
  explicit PlainTransport(int fd) : ConnectionTransport(fd) { set_nonblocking(fd); }
  ~PlainTransport() override { close(false, 0, milliseconds(0)); }

  ssize_t receive(char* data, size_t n, SteadyTime deadline) override {
    timed_out_ = false;
    for (;;) {
      const ssize_t got = ::recv(fd_, data, n, 0);
      if (got >= 0) return got;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      const int ready = wait_for_socket(fd_, POLLIN, deadline);
      if (ready == 0) timed_out_ = true;
      if (ready <= 0) return -1;
    }
  }

  bool send_all(const char* data, size_t n, milliseconds idle) override {
    while (n > 0) {
      const ssize_t sent = ::send(fd_, data, n, MSG_NOSIGNAL);
      if (sent > 0) {
        data += sent;
        n -= static_cast<size_t>(sent);
        continue;
      }
      if (sent < 0 && errno == EINTR) continue;
      if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
      if (wait_for_socket(fd_, POLLOUT, steady_clock::now() + idle) <= 0) return false;
    }
    return true;
  }

  bool has_buffered() const override { return false; }

  uint64_t close(bool drain, size_t drain_bytes, milliseconds drain_time) override {
    if (fd_ < 0) return 0;
    const uint64_t dropped = drain_and_close(fd_, drain, drain_bytes, drain_time);
    fd_ = -1;
    return dropped;
  }
};

class TlsTransport final : public ConnectionTransport {
 public:
  TlsTransport(int fd, SSL* ssl) : ConnectionTransport(fd), ssl_(ssl) {}
  ~TlsTransport() override { close(false, 0, milliseconds(0)); }

  // Runs one OpenSSL call until it succeeds, fails, or `deadline` passes while it waits.
  template <typename Call>
  int drive(Call call, SteadyTime deadline) {
    for (;;) {
      ERR_clear_error();
      const int r = call();
      if (r > 0) return r;
      const int e = SSL_get_error(ssl_, r);
      short events = 0;
      if (e == SSL_ERROR_WANT_READ) {
        events = POLLIN;
      } else if (e == SSL_ERROR_WANT_WRITE) {
        events = POLLOUT;
      } else if (e == SSL_ERROR_ZERO_RETURN) {
        return 0;
      } else {
        fatal_ = true;  // no further call on this session, not even SSL_shutdown
        return -1;
      }
      const int ready = wait_for_socket(fd_, events, deadline);
      if (ready == 0) timed_out_ = true;
      if (ready <= 0) return -1;
    }
  }

  bool handshake(SteadyTime deadline) {
    handshaken_ = drive([&] { return SSL_accept(ssl_); }, deadline) > 0;
    return handshaken_;
  }

  ssize_t receive(char* data, size_t n, SteadyTime deadline) override {
    timed_out_ = false;
    size_t got = 0;
    const int r = drive([&] { return SSL_read_ex(ssl_, data, n, &got); }, deadline);
    if (r > 0) return static_cast<ssize_t>(got);
    return r;
  }

  bool send_all(const char* data, size_t n, milliseconds idle) override {
    while (n > 0) {
      size_t sent = 0;
      if (drive([&] { return SSL_write_ex(ssl_, data, n, &sent); }, steady_clock::now() + idle) <=
          0)
        return false;
      data += sent;
      n -= sent;
    }
    return true;
  }

  bool has_buffered() const override { return SSL_has_pending(ssl_) == 1; }

  uint64_t close(bool drain, size_t drain_bytes, milliseconds drain_time) override {
    if (fd_ < 0) return 0;
    uint64_t dropped = 0;
    if (!fatal_ && handshaken_) {
      // What was read ahead counts as drained; a partial record ends this (no wait here).
      std::array<char, 16 * 1024> sink;
      size_t got = 0;
      while (drain && dropped < drain_bytes && SSL_has_pending(ssl_) == 1) {
        ERR_clear_error();
        if (SSL_read_ex(ssl_, sink.data(), sink.size(), &got) != 1) break;
        dropped += got;
      }
      ERR_clear_error();
      SSL_shutdown(ssl_);  // close_notify (non-blocking: sent if it fits); the peer's not awaited
    }
    SSL_free(ssl_);
    ssl_ = nullptr;
    const size_t rest = drain_bytes > dropped ? drain_bytes - static_cast<size_t>(dropped) : 0;
    dropped += drain_and_close(fd_, drain, rest, drain_time);
    fd_ = -1;
    return dropped;
  }

 private:
  SSL* ssl_;
  bool fatal_ = false;
  bool handshaken_ = false;
};

}  // namespace

int wait_for_socket(int fd, short events, SteadyTime deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now()).count();
    if (left <= 0) return 0;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1'000'000)));
    if (r < 0 && errno == EINTR) continue;
    if (r > 0 && (p.revents & (POLLERR | POLLNVAL)) && !(p.revents & events)) return -1;
    return r;
  }
}

std::unique_ptr<ConnectionTransport> plain_transport(int fd) {
  return std::make_unique<PlainTransport>(fd);
}

// What a TLS connection reads from its socket at once (a few records).
constexpr size_t kReadAheadBytes = 64 * 1024;

std::unique_ptr<ConnectionTransport> tls_transport(int fd, SSL_CTX* ctx, SteadyTime deadline) {
  set_nonblocking(fd);
  SSL* ssl = ctx ? SSL_new(ctx) : nullptr;
  // Writes return after each record, so a slow reader's wait is renewed by every bit of progress.
  if (ssl) SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Records are read kReadAheadBytes at a time rather than header and body apart: a 4 MiB
  // body takes about 70 receive calls instead of 520, and on loopback each call that opens the
  // window sends an ACK the kernel processes in this thread. Bytes read ahead are counted by
  // has_buffered (SSL_has_pending), so no wait polls the socket while a request sits here.
  if (ssl) {
    SSL_set_default_read_buffer_len(ssl, kReadAheadBytes);
    SSL_set_read_ahead(ssl, 1);
  }
  if (!ssl || SSL_set_fd(ssl, fd) != 1) {
    if (ssl) SSL_free(ssl);
    ::close(fd);
    return nullptr;
  }
  auto t = std::make_unique<TlsTransport>(fd, ssl);
  if (!t->handshake(deadline)) return nullptr;  // the destructor frees and closes
  return t;
}

}  // namespace satchel::relay
