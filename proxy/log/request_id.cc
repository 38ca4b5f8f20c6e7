#include "proxy/log/request_id.h"

#include <random>

namespace outrigger::log {

// Seeded with 64 bits from the OS, expanded by base::Rng: two processes share a stream only
// if they draw the same seed (one chance in 2^64 per pair).
RequestIdGenerator::RequestIdGenerator()
    : rng_((static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()) {}

void RequestIdGenerator::Next(char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int half = 0; half < 2; ++half) {
    uint64_t v = rng_.Next();
    for (int i = 15; i >= 0; --i) {
      out[half * 16 + i] = kHex[v & 0xf];
      v >>= 4;
    }
  }
}

bool IsValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace outrigger::log
