// BoundedStream and the connection loop (see bounded_stream.h).
#include "http/bounded_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace satchel::relay {

namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

thread_local BoundedStream* t_stream = nullptr;

void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  const int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                     : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ip.clear();
  port = 0;
  if (r != 0) return;
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
    port = ntohs(a->sin6_port);
  }
  ip = text;
}

bool is_interim_answer(const char* ptr, size_t size) {
  constexpr std::string_view kContinue = "HTTP/1.1 100 ";
  return size >= kContinue.size() && std::memcmp(ptr, kContinue.data(), kContinue.size()) == 0;
}

}  // namespace

BoundedStream::BoundedStream(ConnectionTransport& transport, const ConnectionLimits& limits)
    : transport_(transport), limits_(limits), framing_(kMaxHeadBytes, kMaxHeaderLines) {}

const BoundedStream* current_stream() {
  return t_stream;
}

BoundedStream* current_stream_to_drain() {
  return t_stream;
}

bool BoundedStream::is_readable() const {
  if (begin_ < end_ || transport_.has_buffered()) return true;
  return wait_for_socket(transport_.fd(), POLLIN, steady_clock::now() + limits_.read_idle) > 0;
}

bool BoundedStream::is_writable() const {
  return wait_for_socket(transport_.fd(), POLLOUT, steady_clock::now() + limits_.write_idle) > 0;
}

BoundedStream::Deadline BoundedStream::read_deadline() const {
  const SteadyTime idle = steady_clock::now() + limits_.read_idle;
  if (framing_.phase() == RequestFraming::Phase::kHead) {
    const SteadyTime head_due = head_started_ + limits_.head_deadline;
    return head_due < idle ? Deadline{head_due, ReadFailure::kHeadTooSlow}
                           : Deadline{idle, ReadFailure::kStalled};
  }
  if (limits_.min_body_bytes_per_second == 0) return {idle, ReadFailure::kStalled};
  // The body must average the minimum rate once the grace period is over: the next byte is due
  // when the bytes so far plus one would meet it.
  const uint64_t due_ms = (framing_.body_read() + 1) * 1000 / limits_.min_body_bytes_per_second;
  const SteadyTime due = body_started_ + std::max(limits_.body_grace, milliseconds(due_ms));
  return due < idle ? Deadline{due, ReadFailure::kBodyTooSlow}
                    : Deadline{idle, ReadFailure::kStalled};
}

bool BoundedStream::fill(const Deadline& deadline) {
  begin_ = end_ = 0;
  const ssize_t n = transport_.receive(buffer_.data(), buffer_.size(), deadline.at);
  if (n > 0) {
    end_ = static_cast<size_t>(n);
    return true;
  }
  if (n < 0) failure_ = transport_.timed_out() ? deadline.failure : ReadFailure::kBroken;
  return false;
}

ssize_t BoundedStream::read(char* ptr, size_t size) {
  if (failure_ != ReadFailure::kNone) return -1;
  if (framing_.phase() == RequestFraming::Phase::kHead && framing_.is_answered()) return -1;
  if (framing_.phase() == RequestFraming::Phase::kHead && framing_.head_malformed()) {
    failure_ = ReadFailure::kHeadMalformed;
    return -1;
  }
  if (framing_.phase() == RequestFraming::Phase::kHead && framing_.head_over_limit()) {
    failure_ = ReadFailure::kHeadTooLarge;
    return -1;
  }
  // The end of a declared body (or a body of unknown length: none is read) is the end of
  // this request's stream, whatever follows on the connection.
  if (framing_.phase() == RequestFraming::Phase::kBody && framing_.readable(size) == 0) return 0;
  if (begin_ == end_ && !fill(read_deadline())) return failure_ == ReadFailure::kNone ? 0 : -1;
  const bool was_head = framing_.phase() == RequestFraming::Phase::kHead;
  const size_t n = framing_.readable(std::min(size, end_ - begin_));
  if (n == 0) {
    failure_ = framing_.head_malformed() ? ReadFailure::kHeadMalformed : ReadFailure::kHeadTooLarge;
    return -1;
  }
  std::memcpy(ptr, buffer_.data() + begin_, n);
  framing_.consumed(buffer_.data() + begin_, n);
  begin_ += n;
  if (was_head && framing_.phase() == RequestFraming::Phase::kBody)
    body_started_ = steady_clock::now();
  return static_cast<ssize_t>(n);
}

ssize_t BoundedStream::write(const char* ptr, size_t size) {
  if (!is_interim_answer(ptr, size)) {
    if (!framing_.is_answered()) framing_.answered();
    answer_started_ = true;
  }
  if (!transport_.send_all(ptr, size, limits_.write_idle)) return -1;
  return static_cast<ssize_t>(size);
}

void BoundedStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  address_of(transport_.fd(), true, ip, port);
}

void BoundedStream::get_local_ip_and_port(std::string& ip, int& port) const {
  address_of(transport_.fd(), false, ip, port);
}

bool BoundedStream::wait_for_request(const std::atomic<socket_t>& listening,
                                     const std::atomic<size_t>& waiting,
                                     std::optional<SteadyTime> first_due) {
  const SteadyTime until = first_due ? *first_due : steady_clock::now() + limits_.keep_alive;
  while (!has_unread()) {
    if (listening == INVALID_SOCKET) return false;
    // A kept-alive connection gives its worker up at once when another connection waits; only
    // bytes already on their way keep it.
    const bool yield = !first_due && waiting > 0;
    const SteadyTime slice =
        yield ? steady_clock::now() : std::min(until, steady_clock::now() + milliseconds(200));
    const int ready = wait_for_socket(transport_.fd(), POLLIN, slice);
    if (ready < 0) return false;
    if (ready > 0) break;
    if (yield || steady_clock::now() >= until) return false;
  }
  return true;
}

void BoundedStream::begin_request(SteadyTime started) {
  // A drain allowed for an earlier request ends with it (none is allowed on a connection that
  // goes on: its request left nothing unread).
  drained(0);
  drain_bytes_ = kDrainBytes;
  drain_time_ = kDrainTime;
  framing_.begin_request();
  head_started_ = started;
  failure_ = ReadFailure::kNone;
  answer_started_ = false;
}

void BoundedStream::refuse_unanswered(int status, std::string_view reason, std::string_view code) {
  if (answer_started_) return;
  const std::string body = std::string("{\"error\":\"") + std::string(code) + "\"}";
  std::string head =
      "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n";
  head += body;
  answer_started_ = true;
  transport_.send_all(head.data(), head.size(), limits_.write_idle);
}

void BoundedStream::allow_drain(uint64_t bytes, std::chrono::milliseconds time,
                                std::function<void(uint64_t drained)> after) {
  drain_bytes_ = std::max(drain_bytes_, bytes);
  drain_time_ = std::max(drain_time_, time);
  if (after) after_drain_.push_back(std::move(after));
}

void BoundedStream::drained(uint64_t drained) {
  auto callbacks = std::move(after_drain_);
  after_drain_.clear();
  for (auto& after : callbacks) after(drained);
}

void serve_connection(ConnectionTransport& transport, const ConnectionLimits& limits,
                      SteadyTime accepted, const std::atomic<socket_t>& listening,
                      const std::atomic<size_t>& waiting, const RequestProcessor& process) {
  BoundedStream stream(transport, limits);
  struct Current {
    explicit Current(BoundedStream* s) { t_stream = s; }
    ~Current() { t_stream = nullptr; }
  } current(&stream);
  bool clean = true;
  for (size_t served = 0; served < limits.max_requests; served++) {
    const bool first = served == 0;
    if (!stream.wait_for_request(
            listening, waiting,
            first ? std::optional(accepted + limits.head_deadline) : std::nullopt))
      break;
    stream.begin_request(first ? accepted : steady_clock::now());
    bool closed = false;
    const bool ok = process(stream, served + 1 == limits.max_requests, closed);
    switch (stream.failure()) {
      case ReadFailure::kHeadTooLarge:
        stream.refuse_unanswered(431, "Request Header Fields Too Large", "headers-too-large");
        break;
      case ReadFailure::kHeadMalformed:
        stream.refuse_unanswered(400, "Bad Request", "bad-request");
        break;
      case ReadFailure::kHeadTooSlow:
      case ReadFailure::kStalled:
        stream.refuse_unanswered(408, "Request Timeout", "request-timeout");
        break;
      default:
        break;
    }
    const bool at_boundary = stream.framing().at_request_boundary();
    const bool started = stream.framing().phase() != RequestFraming::Phase::kHead ||
                         stream.framing().head_over_limit() || stream.framing().head_malformed() ||
                         stream.answer_started();
    if (!at_boundary && started) clean = false;
    if (!ok || closed || !at_boundary) break;
  }
  // Bytes still in the socket (a pipelined request not read yet) would make close() send a
  // reset that can destroy the answer in flight: they are drained as well.
  if (stream.has_unread() || wait_for_socket(transport.fd(), POLLIN, steady_clock::now()) > 0)
    clean = false;
  const size_t buffered = stream.buffered();
  stream.drained(buffered + transport.close(!clean, stream.drain_bytes(), stream.drain_time()));
}

}  // namespace satchel::relay
