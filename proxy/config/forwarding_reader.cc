#include "proxy/config/forwarding_reader.h"

#include <fmt/format.h>

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace outrigger::config {
namespace {

// Index of the field's value in `choices`, or nullopt after reporting what was expected.
std::optional<size_t> ReadChoice(const Field& f, std::span<const std::string_view> choices,
                                 Diagnostics* diag) {
  std::optional<std::string> s = ReadString(f, diag);
  if (!s) return std::nullopt;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (*s == choices[i]) return i;
  }
  std::string message =
      fmt::format("{}expected one of: {}, got \"{}\"", f.Prefix(), JoinNames(choices), *s);
  if (auto suggestion = Suggest(*s, choices)) {
    message += fmt::format("; did you mean `{}`?", *suggestion);
  }
  diag->Add(LocateValue(f, *diag), std::move(message));
  return std::nullopt;
}

}  // namespace

void ReadNormalize(const Field& f, NormalizeConfig* normalize, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return;
  MapReader keys(f, {"merge_slashes", "escaped_slashes"}, diag);
  if (auto merge = keys.Get("merge_slashes")) {
    constexpr std::array<std::string_view, 2> kBools{"false", "true"};
    if (auto i = ReadChoice(*merge, kBools, diag)) normalize->merge_slashes = *i == 1;
  }
  if (auto slashes = keys.Get("escaped_slashes")) {
    constexpr std::array<std::string_view, 3> kModes{"keep", "reject", "decode"};
    if (auto i = ReadChoice(*slashes, kModes, diag)) {
      normalize->escaped_slashes = static_cast<EscapedSlashes>(*i);
    }
  }
}

void ReadForwardedFor(const Field& f, ForwardedForMode* mode, Diagnostics* diag) {
  constexpr std::array<std::string_view, 2> kModes{"replace", "append"};
  if (auto i = ReadChoice(f, kModes, diag)) *mode = static_cast<ForwardedForMode>(*i);
}

void ReadForwarded(const Field& f, bool* rfc7239, Diagnostics* diag) {
  constexpr std::array<std::string_view, 2> kStyles{"off", "rfc7239"};
  if (auto i = ReadChoice(f, kStyles, diag)) *rfc7239 = *i == 1;
}

}  // namespace outrigger::config
