// StableHash64: a hash that is the same in every worker, every process and every release, for
// consistent hashing (ip_hash) where two workers, or the proxy before and after a restart, must
// send a client to the same backend. absl::Hash and std::hash are unsuitable: absl seeds per
// process and neither promises stability across versions.
//
// The function is XXH64 (Yann Collet, xxHash specification v0.8), so its values can be checked
// against any other implementation. Changing it remaps every ip_hash client: don't.
#pragma once

#include <cstdint>
#include <string_view>

namespace outrigger::balance {

uint64_t StableHash64(std::string_view data, uint64_t seed = 0);

// A bijective 64-bit finaliser (SplitMix64's): derives further well-mixed values from a hash,
// e.g. a key's second, third, ... choice, without rehashing the key.
inline uint64_t MixHash64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace outrigger::balance
