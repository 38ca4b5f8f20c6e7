// Request ids (X-Request-Id): one per request, generated on the worker that serves it.
//
// A generated id is 128 random bits as 32 lowercase hex digits, drawn from a per-worker
// xoshiro256++ generator (base::Rng) seeded once from the OS: no syscall and no lock per request,
// and a collision between any two of a fleet's ids is as unlikely as between two UUIDv4s.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxy/base/prng.h"

namespace outrigger::log {

class RequestIdGenerator {
 public:
  static constexpr size_t kLength = 32;

  // Seeded from std::random_device (one read, at construction).
  RequestIdGenerator();
  // Deterministic, for tests: the state is expanded from `seed` with splitmix64.
  explicit RequestIdGenerator(uint64_t seed) : rng_(seed) {}

  // Writes kLength hex digits to `out` (not NUL-terminated).
  void Next(char* out);
  // 64 random bits, for sampling decisions.
  uint64_t Next64() { return rng_.Next(); }

 private:
  base::Rng rng_;
};

// An incoming id is kept (when trusted) only if it is 1–128 bytes of printable ASCII
// (0x20–0x7e): it is echoed in headers, JSON and error pages, where anything else could
// split a header or forge a log line.
constexpr size_t kMaxRequestIdLength = 128;
bool IsValidRequestId(std::string_view id);

}  // namespace outrigger::log
