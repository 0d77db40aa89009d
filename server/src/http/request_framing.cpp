// RequestFraming (see request_framing.h). It follows cpp-httplib 0.11.4's reading of a head: a
// line ends at LF; the head ends at the first line after the request line that is exactly CRLF
// (lines that do not end in CRLF are skipped by the library and counted here).
#include "http/request_framing.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace satchel::relay {

namespace {

constexpr size_t kKeptLineBytes = 64;  // "Content-Length:" plus 20 digits and spaces

bool starts_with_name(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (size_t i = 0; i < name.size(); i++)
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  return true;
}

// The value of a Content-Length line: digits between optional spaces or tabs, then CRLF.
std::optional<uint64_t> length_value(std::string_view line) {
  std::string_view v = line.substr(line.find(':') + 1);
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.remove_suffix(1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty() || v.size() > 18) return std::nullopt;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

}  // namespace

RequestFraming::RequestFraming(size_t max_head_bytes, size_t max_header_lines)
    : max_head_bytes_(max_head_bytes), max_header_lines_(max_header_lines) {
  line_.reserve(kKeptLineBytes);
}

void RequestFraming::begin_request() {
  phase_ = Phase::kHead;
  answered_ = false;
  head_bytes_ = 0;
  lines_ = 0;
  head_over_limit_ = false;
  head_malformed_ = false;
  last_was_cr_ = false;
  line_.clear();
  line_length_ = 0;
  content_length_lines_ = 0;
  length_malformed_ = false;
  transfer_encoding_ = false;
  declared_length_.reset();
  body_length_.reset();
  body_read_ = 0;
}

size_t RequestFraming::readable(size_t available) const {
  switch (phase_) {
    case Phase::kHead:
      if (head_over_limit_ || head_malformed_ || answered_) return 0;
      // One byte at a time is how the library reads a head; a larger read stops at the limit.
      return std::min(available, max_head_bytes_ - head_bytes_);
    case Phase::kBody:
      if (!body_length_) return 0;
      return static_cast<size_t>(std::min<uint64_t>(available, *body_length_ - body_read_));
  }
  return 0;
}

void RequestFraming::consumed(const char* data, size_t n) {
  if (phase_ == Phase::kBody) {
    body_read_ += n;
    return;
  }
  for (size_t i = 0; i < n && phase_ == Phase::kHead; i++) {
    head_bytes_++;
    line_length_++;
    if (line_.size() < kKeptLineBytes) line_.push_back(data[i]);
    if (data[i] == '\n') {
      if (!last_was_cr_) head_malformed_ = true;
      end_line();
    }
    last_was_cr_ = data[i] == '\r';
    if (phase_ == Phase::kHead && head_bytes_ >= max_head_bytes_) head_over_limit_ = true;
  }
}

void RequestFraming::end_line() {
  const std::string_view line(line_);
  const bool blank = line_length_ == 2 && line == "\r\n";
  lines_++;
  if (lines_ > 1 && blank) {
    // The end of the head. A declared length counts only when given once, well formed and
    // without Transfer-Encoding (which the guard refuses before reading any body).
    if (head_malformed_)
      body_length_.reset();
    else if (content_length_lines_ == 0 && !transfer_encoding_)
      body_length_ = 0;
    else if (content_length_lines_ == 1 && !length_malformed_ && !transfer_encoding_)
      body_length_ = declared_length_;
    phase_ = Phase::kBody;
  } else if (lines_ > 1) {
    if (starts_with_name(line, "content-length")) {
      content_length_lines_++;
      auto n = line_length_ <= kKeptLineBytes ? length_value(line) : std::nullopt;
      if (n)
        declared_length_ = n;
      else
        length_malformed_ = true;
    } else if (starts_with_name(line, "transfer-encoding")) {
      transfer_encoding_ = true;
    }
    if (lines_ > max_header_lines_ + 1) head_over_limit_ = true;
  }
  line_.clear();
  line_length_ = 0;
}

void RequestFraming::answered() {
  answered_ = true;
  if (phase_ == Phase::kHead) head_over_limit_ = true;  // nothing more of it is read
}

bool RequestFraming::at_request_boundary() const {
  if (phase_ == Phase::kHead || head_over_limit_ || head_malformed_) return false;
  return body_length_ && body_read_ == *body_length_;
}

}  // namespace satchel::relay
