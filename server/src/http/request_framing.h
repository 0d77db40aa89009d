// RequestFraming: where one HTTP/1.1 request ends on a connection, worked out from the bytes
// cpp-httplib reads, independently of the library. It bounds the request head (request line and
// header lines) and knows from Content-Length where the body ends, so the connection layer can
// refuse heads that grow without limit and close a connection whose answer left body bytes
// unread (they would otherwise be parsed as the next request: FACTS.md, request smuggling).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace satchel::relay {

class RequestFraming {
 public:
  // A request head (request line, header lines and the blank line) of at most `max_head_bytes`
  // bytes and `max_header_lines` lines.
  RequestFraming(size_t max_head_bytes, size_t max_header_lines);

  enum class Phase { kHead, kBody };
  Phase phase() const { return phase_; }

  // Starts a new request: the next bytes read are its head.
  void begin_request();
  // How many of `available` bytes the library may read now without passing the end of the head
  // (in the head) or of the declared body (in the body); 0 in the body means end of body. In
  // the head, 0 means the head is over its bound (head_over_limit() says so).
  size_t readable(size_t available) const;
  // Records that the library read these bytes (at most readable() of them).
  void consumed(const char* data, size_t n);
  // Records that the library began writing an answer to this request ("100 Continue" interim
  // answers excluded by the caller). The head is then over: an answer given part-way through
  // it leaves the request without a known end. The rest of a declared body may still be read
  // (a handler draining a body it refused).
  void answered();
  bool is_answered() const { return answered_; }

  bool head_over_limit() const { return head_over_limit_; }
  // True when a line of the head ended in a bare LF: cpp-httplib skips such header lines, so a
  // Content-Length on one would be seen here and not by the library. The head is refused.
  bool head_malformed() const { return head_malformed_; }
  // True when the head has ended and every byte of a body of known length has been read: the
  // next byte on the connection, if any, starts a new request.
  bool at_request_boundary() const;
  // Body bytes read so far, and the declared length (nullopt when absent, repeated, malformed or
  // combined with Transfer-Encoding: such a request never reaches its boundary).
  uint64_t body_read() const { return body_read_; }
  std::optional<uint64_t> body_length() const { return body_length_; }

 private:
  void end_line();

  size_t max_head_bytes_;
  size_t max_header_lines_;
  Phase phase_ = Phase::kHead;
  bool answered_ = false;
  size_t head_bytes_ = 0;
  size_t lines_ = 0;
  bool head_over_limit_ = false;
  bool head_malformed_ = false;
  bool last_was_cr_ = false;
  // The current line: its first bytes (enough to recognise Content-Length and
  // Transfer-Encoding) and its full length.
  std::string line_;
  size_t line_length_ = 0;
  size_t content_length_lines_ = 0;
  bool length_malformed_ = false;
  bool transfer_encoding_ = false;
  std::optional<uint64_t> declared_length_;  // the Content-Length line's value, until the end
  std::optional<uint64_t> body_length_;      // set when the head has ended
  uint64_t body_read_ = 0;
};

}  // namespace satchel::relay
