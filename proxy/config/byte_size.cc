// Byte sizes in the config: a non-negative decimal integer, alone (bytes) or with one binary
// unit. Decimal units ("MB") are refused rather than guessed at: is 1MB 10^6 or 2^20?
#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <utility>

#include "proxy/config/loader.h"

namespace outrigger::config {
namespace {

constexpr std::array<std::pair<std::string_view, int>, 4> kUnits = {{
    {"", 0},
    {"KiB", 10},
    {"MiB", 20},
    {"GiB", 30},
}};

// 1 TiB: far beyond any sensible request body, and clear of overflow in any sum with it.
constexpr uint64_t kMaxBytes = uint64_t{1} << 40;

absl::Status Invalid(std::string_view text) {
  return absl::InvalidArgumentError(
      fmt::format("invalid size \"{}\": expected an integer of bytes, or one with a unit (KiB, "
                  "MiB, GiB), e.g. 65536, 512KiB, 10MiB",
                  text));
}

}  // namespace

absl::StatusOr<uint64_t> ParseByteSize(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return Invalid(text);
  std::string_view unit = text.substr(digits);
  for (const auto& [name, shift] : kUnits) {
    if (unit != name) continue;
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + digits, value);
    if (ec != std::errc() || value > (kMaxBytes >> shift)) {
      return absl::InvalidArgumentError(
          fmt::format("size \"{}\" is too large: the maximum is 1024GiB", text));
    }
    return value << shift;
  }
  return Invalid(text);
}

}  // namespace outrigger::config
