// GcraTable: the rate_limit plugin's state, shared by every worker of the process: for each
// key, its theoretical arrival time (GCRA, RFC-less but as in Brandur's and redis-cell's
// write-ups: a request is allowed while TAT - now <= (burst - 1) * interval, and moves TAT
// one interval on). Lock-free and bounded: a fixed array of 64-bit words, each a key's
// 16-bit fingerprint and its TAT in microseconds, updated by compare-and-swap.
//
// A key may live in two slots (its hash's and the neighbouring one). A key that finds
// neither free nor its own takes the one whose TAT is earliest: the key evicted was the one
// closest to a full bucket, so forgetting it costs it at most what it had nearly regained.
// Two keys that share a fingerprint and a slot share a limit: with 2^15 fingerprints and two
// slots per key that is rare, and only ever makes a limit stricter for the keys involved.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace outrigger::plugins {

class GcraTable {
 public:
  // `interval_ns`: one request's worth of time (period / count); `burst` >= 1.
  GcraTable(size_t max_keys, int64_t interval_ns, uint32_t burst, int64_t epoch_ns);

  struct Decision {
    bool allowed = false;
    int64_t retry_after_ns = 0;  // !allowed: when the next request would be
    uint32_t remaining = 0;      // allowed: requests still allowed at once after this one
    int64_t reset_ns = 0;        // until the bucket is full again
  };
  // One request for the key hashing to `hash`, at `now_ns` (monotonic, >= epoch_ns).
  Decision Take(uint64_t hash, int64_t now_ns);

  size_t slots() const { return mask_ + 1; }

 private:
  const size_t mask_;
  const int64_t interval_us_;
  const int64_t tolerance_us_;  // (burst - 1) * interval
  const int64_t epoch_ns_;
  const std::unique_ptr<std::atomic<uint64_t>[]> words_;
};

}  // namespace outrigger::plugins
