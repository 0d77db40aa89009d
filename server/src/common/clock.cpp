// Day arithmetic in UTC without the C library's time-zone state (gmtime_r is thread-safe but
// reads TZ; the civil-from-days algorithm below does not).
#include "satchel/relay/clock.h"

#include <cstdio>
#include <ctime>

namespace satchel::relay {

namespace {

struct CivilDate {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

// Howard Hinnant's days_from_civil inverse (public domain), for the proleptic Gregorian calendar.
CivilDate civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {m <= 2 ? y + 1 : y, m, d};
}

}  // namespace

Day day_of(int64_t unix_seconds) {
  return unix_seconds >= 0 ? unix_seconds / kSecondsPerDay
                           : -((-unix_seconds + kSecondsPerDay - 1) / kSecondsPerDay);
}

std::string day_text(Day day) {
  const CivilDate c = civil_from_days(day);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(c.year), c.month,
                c.day);
  return buf;
}

std::string http_date_of_day(Day day) {
  static const char* const kWeekdays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const CivilDate c = civil_from_days(day);
  const int64_t weekday = ((day % 7) + 7) % 7;  // 1970-01-01 was a Thursday
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04lld 00:00:00 GMT", kWeekdays[weekday], c.day,
                kMonths[c.month - 1], static_cast<long long>(c.year));
  return buf;
}

int64_t SystemClock::now() const {
  return static_cast<int64_t>(std::time(nullptr));
}

}  // namespace satchel::relay
