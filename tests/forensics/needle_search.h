// TEST ONLY. Finds many short byte strings (needles) at once in a large buffer: the raw-image,
// decrypted-page and decrypted-blob searches of the block-level forensic scanner.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

namespace satchel::forensics {

class NeedleSet {
 public:
  static constexpr size_t kMinLength = 4;

  // Adds a needle of at least kMinLength bytes; returns its index.
  size_t add(std::vector<uint8_t> bytes) {
    if (bytes.size() < kMinLength) throw std::invalid_argument("needle shorter than 4 bytes");
    const uint32_t head = prefix(bytes.data());
    filter_[bucket(head) / 64] |= uint64_t{1} << (bucket(head) % 64);
    heads_.emplace_back(head, static_cast<uint32_t>(needles_.size()));
    std::sort(heads_.begin(), heads_.end());
    max_length_ = std::max(max_length_, bytes.size());
    needles_.push_back(std::move(bytes));
    return needles_.size() - 1;
  }
  size_t size() const { return needles_.size(); }
  size_t max_length() const { return max_length_; }
  const std::vector<uint8_t>& needle(size_t i) const { return needles_[i]; }

  // Calls hit(position, needle index) for every needle that starts at a position below `starts`
  // and ends within data[0, len).
  template <typename F>
  void find(const uint8_t* data, size_t len, size_t starts, F&& hit) const {
    if (needles_.empty() || len < kMinLength) return;
    const size_t last = std::min(starts, len - kMinLength + 1);
    for (size_t i = 0; i < last; i++) {
      const uint32_t head = prefix(data + i);
      const uint32_t b = bucket(head);
      if (!(filter_[b / 64] >> (b % 64) & 1)) continue;
      auto it = std::lower_bound(heads_.begin(), heads_.end(), std::make_pair(head, uint32_t{0}));
      for (; it != heads_.end() && it->first == head; ++it) {
        const auto& n = needles_[it->second];
        if (i + n.size() <= len && std::memcmp(data + i, n.data(), n.size()) == 0)
          hit(i, static_cast<size_t>(it->second));
      }
    }
  }

 private:
  static uint32_t prefix(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static uint32_t bucket(uint32_t head) { return (head * 2654435761u) >> 16; }

  std::vector<std::vector<uint8_t>> needles_;
  std::vector<std::pair<uint32_t, uint32_t>> heads_;  // (first 4 bytes, needle index), sorted
  std::array<uint64_t, 1024> filter_{};               // one bit per bucket of first 4 bytes
  size_t max_length_ = 0;
};

}  // namespace satchel::forensics
