// YAML → Config. Every problem found is reported, not just the first, each as
// "FILE:LINE:COL: message" (line and column 1-based, pointing at the offending key or
// value), joined by newlines in the returned status's message. Unknown keys are errors and
// carry "did you mean `x`?" when a known key is within edit distance 2.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "proxy/config/config.h"

namespace outrigger::config {

// Reads and validates `path`. Host names in addresses are resolved (blocking).
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// Same, from text; `file` is only used in messages.
absl::StatusOr<Config> LoadConfigString(std::string_view yaml, const std::string& file);

// Parses "250ms", "5s", "2m", "1h" (a positive integer and a unit; "0s" is allowed).
absl::StatusOr<Duration> ParseDuration(std::string_view text);
// Parses a byte size: "65536", "512KiB", "10MiB", "1GiB" (at most 1024GiB; "0" is allowed).
absl::StatusOr<uint64_t> ParseByteSize(std::string_view text);

}  // namespace outrigger::config
