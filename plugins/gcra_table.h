// GcraTable: the rate_limit plugin's state, shared by every worker of the process: for each
// key, its theoretical arrival time (GCRA, as in Brandur's and redis-cell's write-ups: a
// request is allowed while TAT - now <= (burst - 1) * interval, and moves TAT one interval
// on). Lock-free and bounded: a fixed array of slots, each a key's 64-bit hash and its TAT
// in microseconds, each word updated by compare-and-swap.
//
// A key may live in two slots (its hash's and the neighbouring one). A key that finds
// neither its own takes the one whose TAT is earliest: the key evicted was the one closest
// to a full bucket, so forgetting it costs it at most what it had nearly regained. Keys are
// told apart by their whole hash: a 16-bit fingerprint (the first design) let about one new
// client in 30,000 be limited by a stranger's bucket once the table was full of live keys.
//
// The two words of a slot are written one after the other, so a request racing an eviction
// of its slot may be judged on the other key's TAT or lose its own update: the error is one
// decision, at the moment the key was being forgotten anyway.
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
  Decision Allowed(int64_t now_us, int64_t next_tat_us) const;

  struct Slot {
    std::atomic<uint64_t> key{0};  // the key's hash with its low bit set; 0: free
    std::atomic<int64_t> tat{0};   // microseconds from the epoch; 0 for a free slot
  };

  const size_t mask_;
  const int64_t interval_us_;
  const int64_t tolerance_us_;  // (burst - 1) * interval
  const int64_t epoch_ns_;
  const std::unique_ptr<Slot[]> slots_;
};

}  // namespace outrigger::plugins
