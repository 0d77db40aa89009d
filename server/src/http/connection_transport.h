// ConnectionTransport: the bytes of one accepted connection, plain TCP or TLS 1.3 (OpenSSL over
// a non-blocking socket), read and written with deadlines rather than cpp-httplib's per-receive
// timeouts, and closed without a reset while the client may still be sending.
#pragma once

#include <openssl/ssl.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>

namespace satchel::relay {

using SteadyTime = std::chrono::steady_clock::time_point;

class ConnectionTransport {
 public:
  virtual ~ConnectionTransport() = default;
  // Reads at most `n` bytes, waiting until `deadline`: the count read, 0 when the peer ended the
  // stream, -1 on an error or when the deadline passed (timed_out() then says so).
  virtual ssize_t receive(char* data, size_t n, SteadyTime deadline) = 0;
  // Writes all `n` bytes, waiting at most `idle` for each chance to write: false on an error or
  // a stalled peer.
  virtual bool send_all(const char* data, size_t n, std::chrono::milliseconds idle) = 0;
  // True when bytes already received are waiting to be read (TLS records read ahead, or
  // decrypted and not yet read).
  virtual bool has_buffered() const = 0;
  // Ends the connection. With `drain`, first tells the peer that no more will be written
  // (close_notify, FIN) and reads and drops up to `drain_bytes` for at most `drain_time`, so a
  // client still sending receives the answer rather than a reset. Returns the bytes dropped.
  virtual uint64_t close(bool drain, size_t drain_bytes, std::chrono::milliseconds drain_time) = 0;
  int fd() const { return fd_; }
  bool timed_out() const { return timed_out_; }

 protected:
  explicit ConnectionTransport(int fd) : fd_(fd) {}
  int fd_;
  bool timed_out_ = false;
};

// Waits until `fd` has one of `events` (POLLIN/POLLOUT) or `deadline` passes: >0 ready, 0 timed
// out, <0 error.
int wait_for_socket(int fd, short events, SteadyTime deadline);

// A plain TCP connection (loopback behind a TLS proxy, and the health listener).
std::unique_ptr<ConnectionTransport> plain_transport(int fd);
// A TLS connection from `ctx`, its handshake finished by `deadline`; nullptr when the handshake
// fails or is too slow (the socket is then closed).
std::unique_ptr<ConnectionTransport> tls_transport(int fd, SSL_CTX* ctx, SteadyTime deadline);

}  // namespace satchel::relay
