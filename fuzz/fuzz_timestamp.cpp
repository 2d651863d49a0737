// Fuzzes parse_timestamp: it throws nothing but InvalidArgumentError, and what it parses is
// formatted back to text that parses to the same instant. The first 8 bytes, read as a count of
// nanoseconds since the epoch, also check the other direction for any representable instant.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_harness.hpp"
#include "modelreg/timestamp.hpp"

namespace {

using modelreg::Timestamp;
using modelreg::fuzz::accepts;
using modelreg::fuzz::fail;

void check_format_round_trip(Timestamp t) {
  const std::string text = modelreg::format_timestamp(t);
  Timestamp back;
  if (!accepts([&] { back = modelreg::parse_timestamp(text); })) {
    fail("format_timestamp wrote text that parse_timestamp refuses");
  }
  if (back != t) fail("parse_timestamp(format_timestamp(t)) != t");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Timestamp parsed;
  if (accepts([&] { parsed = modelreg::parse_timestamp(text); })) check_format_round_trip(parsed);

  if (size >= sizeof(std::int64_t)) {
    std::int64_t nanos = 0;
    std::memcpy(&nanos, data, sizeof nanos);
    const auto since_epoch = std::chrono::duration_cast<Timestamp::duration>(
        std::chrono::duration<std::int64_t, std::nano>(nanos));
    check_format_round_trip(Timestamp(since_epoch));
  }
  return 0;
}
