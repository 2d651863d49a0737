#include "modelreg/timestamp.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>

#include "modelreg/error.hpp"
#include "public_call.hpp"

namespace modelreg {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

CivilDate civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

[[noreturn]] void bad_timestamp(std::string_view text, std::string_view why) {
  throw InvalidArgumentError(fmt::format("invalid ISO-8601 timestamp '{}': {}", text, why));
}

}  // namespace

std::string format_timestamp(Timestamp t) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  constexpr std::int64_t kNsPerSecond = 1'000'000'000;
  std::int64_t seconds = ns / kNsPerSecond;
  std::int64_t fraction = ns % kNsPerSecond;
  if (fraction < 0) {
    fraction += kNsPerSecond;
    --seconds;
  }
  std::int64_t days = seconds / 86400;
  std::int64_t rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  const CivilDate date = civil_from_days(days);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", date.year, date.month,
                                date.day, rest / 3600, rest % 3600 / 60, rest % 60);
  if (fraction != 0) {
    if (fraction % 1'000'000 == 0) {
      out += fmt::format(".{:03}", fraction / 1'000'000);
    } else if (fraction % 1000 == 0) {
      out += fmt::format(".{:06}", fraction / 1000);
    } else {
      out += fmt::format(".{:09}", fraction);
    }
  }
  out += 'Z';
  return out;
}

namespace {

// Days of `month` (1-12) in `year` of the proleptic Gregorian calendar.
std::int64_t days_in_month(std::int64_t year, std::int64_t month) {
  static constexpr std::int64_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// `seconds` + `nanos` since the epoch as a Timestamp, or InvalidArgumentError where the clock
// cannot represent it (with 64-bit nanoseconds: before 1677-09-21 or after 2262-04-11).
Timestamp to_timestamp(std::string_view text, std::int64_t seconds, std::int64_t nanos) {
  using Duration = Timestamp::duration;
  static_assert(Duration::period::num == 1, "the clock ticks in fractions of a second");
  constexpr auto kTicksPerSecond = static_cast<Duration::rep>(Duration::period::den);
  auto fraction = std::chrono::duration_cast<Duration>(std::chrono::nanoseconds(nanos)).count();
  if (seconds < 0 && fraction > 0) {  // the earliest instants need the fraction counted down
    ++seconds;
    fraction -= kTicksPerSecond;
  }
  Duration::rep ticks = 0;
  if (__builtin_mul_overflow(seconds, kTicksPerSecond, &ticks) ||
      __builtin_add_overflow(ticks, fraction, &ticks)) {
    bad_timestamp(
        text, fmt::format("outside the range of a timestamp, {} to {}",
                          format_timestamp(Timestamp::min()), format_timestamp(Timestamp::max())));
  }
  return Timestamp(Duration(ticks));
}

Timestamp parse(std::string_view text) {
  std::size_t pos = 0;
  auto digits = [&](std::size_t count) -> std::int64_t {
    if (pos + count > text.size()) bad_timestamp(text, "too short");
    std::int64_t value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = text[pos + i];
      if (c < '0' || c > '9') bad_timestamp(text, "expected a digit");
      value = value * 10 + (c - '0');
    }
    pos += count;
    return value;
  };
  auto expect = [&](char c) {
    if (pos >= text.size() || text[pos] != c) {
      bad_timestamp(text, "unexpected character");
    }
    ++pos;
  };
  const std::int64_t year = digits(4);
  expect('-');
  const std::int64_t month = digits(2);
  expect('-');
  const std::int64_t day = digits(2);
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) {
    bad_timestamp(text, "expected 'T' between date and time");
  }
  ++pos;
  const std::int64_t hour = digits(2);
  expect(':');
  const std::int64_t minute = digits(2);
  expect(':');
  const std::int64_t second = digits(2);
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    bad_timestamp(text, "field out of range");
  }
  std::int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int count = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (count < 9) {
        nanos = nanos * 10 + (text[pos] - '0');
        ++count;
      }
      ++pos;
    }
    if (count == 0) bad_timestamp(text, "empty fraction");
    for (; count < 9; ++count) nanos *= 10;
  }
  std::int64_t offset_seconds = 0;
  if (pos < text.size()) {
    const char c = text[pos];
    if (c == 'Z' || c == 'z') {
      ++pos;
    } else if (c == '+' || c == '-') {
      ++pos;
      const std::int64_t oh = digits(2);
      expect(':');
      const std::int64_t om = digits(2);
      offset_seconds = (oh * 3600 + om * 60) * (c == '-' ? -1 : 1);
    } else {
      bad_timestamp(text, "unexpected character after time");
    }
  }
  if (pos != text.size()) bad_timestamp(text, "trailing characters");
  const std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  // Four-digit years keep this far inside int64; the clock's ticks may not hold it.
  const std::int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  return to_timestamp(text, seconds, nanos);
}

}  // namespace

Timestamp parse_timestamp(std::string_view text) {
  return detail::public_call("parse_timestamp", [&] { return parse(text); });
}

}  // namespace modelreg
