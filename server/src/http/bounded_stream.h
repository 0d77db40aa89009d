// BoundedStream: the httplib::Stream the relay's connections are served through. cpp-httplib
// parses requests from it, but only within bounds the library itself lacks (FACTS.md): a request
// head of at most kMaxHeadBytes and kMaxHeaderLines that arrives within `head_deadline`, a body
// that arrives at the minimum average rate (so within max(grace, length / rate)), and never a
// byte past the end of the declared body. serve_connection() runs the keep-alive loop and closes
// — with a bounded drain instead of a reset — every connection whose answer left a body, or part
// of a head, unread.
#pragma once

#include <httplib.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string_view>

#include "http/connection_transport.h"
#include "http/request_framing.h"

namespace satchel::relay {

inline constexpr size_t kMaxHeadBytes = 32 * 1024;  // nginx's large_client_header_buffers 4 8k
inline constexpr size_t kMaxHeaderLines = 100;
inline constexpr size_t kDrainBytes = 64 * 1024;
inline constexpr std::chrono::milliseconds kDrainTime{500};

struct ConnectionLimits {
  std::chrono::milliseconds read_idle{20'000};      // longest wait for any next bytes
  std::chrono::milliseconds write_idle{20'000};     // longest wait to write
  std::chrono::milliseconds keep_alive{10'000};     // longest wait for the next request
  std::chrono::milliseconds head_deadline{10'000};  // first head byte to its last
  std::chrono::milliseconds body_grace{10'000};     // before the rate is checked
  uint64_t min_body_bytes_per_second = 1024;        // 0: no rate (read_idle only)
  size_t max_requests = 100;                        // per connection
};

// Why a connection stopped reading a request, for the answer the client gets.
enum class ReadFailure {
  kNone,
  kHeadTooLarge,
  kHeadMalformed,  // a head line ending in a bare LF
  kHeadTooSlow,
  kBodyTooSlow,
  kStalled,  // no bytes for read_idle
  kBroken,   // the peer reset or the TLS session failed
};

class BoundedStream final : public httplib::Stream {
 public:
  BoundedStream(ConnectionTransport& transport, const ConnectionLimits& limits);

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return transport_.fd(); }

  // Waits for the first byte of a next request: the first request's until `first_due`, a later
  // one's up to the keep-alive time, but not at all while other connections wait for a worker
  // (`waiting` > 0). False when none came, the peer left, or `listening` was closed.
  bool wait_for_request(const std::atomic<socket_t>& listening, const std::atomic<size_t>& waiting,
                        std::optional<SteadyTime> first_due);
  // Starts a request whose head is due `request_head_seconds` after `started`.
  void begin_request(SteadyTime started);
  // True when bytes received are not yet read (a pipelined request, or the rest of a body).
  bool has_unread() const { return begin_ < end_ || transport_.has_buffered(); }
  // Bytes received into this stream's buffer and not read (decrypted TLS bytes not counted).
  size_t buffered() const { return end_ - begin_; }
  const RequestFraming& framing() const { return framing_; }
  ReadFailure failure() const { return failure_; }
  bool answer_started() const { return answer_started_; }
  // Writes a refusal with a JSON body and Connection: close, when nothing was answered yet.
  void refuse_unanswered(int status, std::string_view reason, std::string_view code);
  // Lets the close after this request drain up to `bytes` for up to `time` (instead of
  // kDrainBytes / kDrainTime, if more), and calls `after` with the bytes it drained once the
  // connection is closed (with the bytes it had buffered unread too). For a handler that answers
  // before reading a body it expects to be large, so that the client reads the answer, not a reset.
  void allow_drain(uint64_t bytes, std::chrono::milliseconds time,
                   std::function<void(uint64_t drained)> after);
  // The bounds of the close's drain: kDrainBytes / kDrainTime or what allow_drain raised.
  uint64_t drain_bytes() const { return drain_bytes_; }
  std::chrono::milliseconds drain_time() const { return drain_time_; }
  // Calls the allow_drain callbacks with `drained`, once.
  void drained(uint64_t drained);

 private:
  // When the next bytes are due, and what it means if they are late.
  struct Deadline {
    SteadyTime at;
    ReadFailure failure;
  };
  Deadline read_deadline() const;
  bool fill(const Deadline& deadline);

  ConnectionTransport& transport_;
  ConnectionLimits limits_;
  RequestFraming framing_;
  std::array<char, 16 * 1024> buffer_{};
  size_t begin_ = 0, end_ = 0;
  SteadyTime head_started_{};
  SteadyTime body_started_{};
  ReadFailure failure_ = ReadFailure::kNone;
  bool answer_started_ = false;
  uint64_t drain_bytes_ = kDrainBytes;
  std::chrono::milliseconds drain_time_ = kDrainTime;
  std::vector<std::function<void(uint64_t)>> after_drain_;
};

// The stream of the request this thread is serving (nullptr outside serve_connection): the
// error handler reads why a request failed and whether its body was left unread.
const BoundedStream* current_stream();
// The same stream, for a handler that raises its close's drain (allow_drain).
BoundedStream* current_stream_to_drain();

using RequestProcessor =
    std::function<bool(httplib::Stream& strm, bool close_connection, bool& connection_closed)>;

// Serves requests from `transport`, accepted at `accepted` (its first request's head is due
// `head_deadline` later, the TLS handshake included), until the peer leaves,
// `limits.max_requests` were served, a request's end cannot be known, the connection is idle
// while others wait for a worker, or `listening` is closed. Then closes the transport, draining
// when bytes received may be unread.
void serve_connection(ConnectionTransport& transport, const ConnectionLimits& limits,
                      SteadyTime accepted, const std::atomic<socket_t>& listening,
                      const std::atomic<size_t>& waiting, const RequestProcessor& process);

}  // namespace satchel::relay
