// Rng: the per-instance pseudo-random generator of the balancing policies, the health
// checker's jitter and the request ids.
//
// xoshiro256++ (Blackman & Vigna, "Scrambled Linear Pseudorandom Number Generators", 2021),
// seeded through SplitMix64 so any 64-bit seed, 0 included, gives a well-mixed state. Chosen
// over std::mt19937_64 for its 32-byte state and ~1 ns draw, and over absl::BitGen because a
// policy's picks must be exactly reproducible from PolicyOptions::seed in tests.
// Not thread-safe: one per policy instance (so one per worker), one per worker for ids.
#pragma once

#include <array>
#include <cstdint>

namespace outrigger::base {

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& word : state_) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      word = z ^ (z >> 31);
    }
  }

  uint64_t Next() {
    const uint64_t result = Rotl(state_[0] + state_[3], 23) + state_[0];
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = Rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, bound), without modulo bias (Lemire, "Fast Random Integer Generation in an
  // Interval", 2019). REQUIRES: bound > 0.
  uint64_t Below(uint64_t bound) {
    unsigned __int128 m = static_cast<unsigned __int128>(Next()) * bound;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < bound) {
      const uint64_t threshold = -bound % bound;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(Next()) * bound;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  std::array<uint64_t, 4> state_;
};

}  // namespace outrigger::base
