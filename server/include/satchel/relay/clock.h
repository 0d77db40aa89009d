// Time as the relay sees it: seconds, only for short-lived secrets held in memory (challenges,
// sessions) or at hour precision (enrollment code expiry), and whole UTC days for everything
// it keeps about uploads. The clock is injected so tests can move it.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace satchel::relay {

// Days since 1970-01-01 UTC.
using Day = int64_t;
inline constexpr int64_t kSecondsPerDay = 86400;

// The UTC day containing `unix_seconds` (floor division, correct before 1970 too).
Day day_of(int64_t unix_seconds);
// The day as "YYYY-MM-DD".
std::string day_text(Day day);
// The day as an HTTP date at midnight UTC ("Tue, 03 Nov 2026 00:00:00 GMT", RFC 9110).
std::string http_date_of_day(Day day);

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch.
  virtual int64_t now() const = 0;
  Day today() const { return day_of(now()); }
};

// The system's real-time clock.
class SystemClock final : public Clock {
 public:
  int64_t now() const override;
};

// A clock that moves only when told to (tests, and the store's own unit tests).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start) : now_(start) {}
  int64_t now() const override { return now_.load(); }
  void advance(int64_t seconds) { now_ += seconds; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace satchel::relay
