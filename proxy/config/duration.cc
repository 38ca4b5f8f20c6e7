// Durations in the config: a non-negative decimal integer and one unit, nothing else, so
// "5" (which unit?) and "1.5s" (which rounding?) are rejected rather than guessed at.
#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <utility>

#include "proxy/config/loader.h"

namespace outrigger::config {
namespace {

constexpr std::array<std::pair<std::string_view, int64_t>, 4> kUnits = {{
    {"ms", 1},
    {"s", 1000},
    {"m", 60 * 1000},
    {"h", 60 * 60 * 1000},
}};

// One year: far beyond any sensible timeout, and small enough that callers may convert to
// nanoseconds and add it to a monotonic clock reading without overflow.
constexpr int64_t kMaxMillis = int64_t{365} * 24 * 60 * 60 * 1000;

absl::Status Invalid(std::string_view text) {
  return absl::InvalidArgumentError(fmt::format(
      "invalid duration \"{}\": expected an integer and a unit (ms, s, m, h), e.g. 250ms, 5s, "
      "2m, 1h",
      text));
}

}  // namespace

absl::StatusOr<Duration> ParseDuration(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return Invalid(text);
  std::string_view unit = text.substr(digits);
  for (const auto& [name, millis] : kUnits) {
    if (unit != name) continue;
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + digits, value);
    if (ec != std::errc() || value > static_cast<uint64_t>(kMaxMillis / millis)) {
      return absl::InvalidArgumentError(
          fmt::format("duration \"{}\" is too long: the maximum is 8760h (one year)", text));
    }
    return Duration(static_cast<int64_t>(value) * millis);
  }
  return Invalid(text);
}

}  // namespace outrigger::config
