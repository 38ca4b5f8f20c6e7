#include "plugins/gcra_table.h"

#include <algorithm>

namespace outrigger::plugins {
namespace {

constexpr int kTatBits = 48;  // microseconds: 8.9 years from the table's epoch
constexpr uint64_t kTatMask = (uint64_t{1} << kTatBits) - 1;

size_t SlotsFor(size_t max_keys) {
  size_t n = 2;
  while (n < max_keys) n <<= 1;
  return n;
}

uint64_t Fingerprint(uint64_t hash) { return (hash >> kTatBits) | 0x8000; }  // never 0: free
uint64_t FingerprintOf(uint64_t word) { return word >> kTatBits; }
int64_t TatOf(uint64_t word) { return static_cast<int64_t>(word & kTatMask); }
uint64_t Pack(uint64_t fp, int64_t tat) {
  return (fp << kTatBits) | (static_cast<uint64_t>(tat) & kTatMask);
}

}  // namespace

GcraTable::GcraTable(size_t max_keys, int64_t interval_ns, uint32_t burst, int64_t epoch_ns)
    : mask_(SlotsFor(max_keys) - 1),
      interval_us_(std::max<int64_t>(1, interval_ns / 1000)),
      // The config keeps burst * interval within a year; saturate rather than overflow.
      tolerance_us_(static_cast<int64_t>(std::min<__int128>(
          static_cast<__int128>(interval_us_) * (static_cast<int64_t>(burst) - 1),
          __int128{1} << kTatBits))),
      epoch_ns_(epoch_ns),
      words_(std::make_unique<std::atomic<uint64_t>[]>(mask_ + 1)) {}

GcraTable::Decision GcraTable::Take(uint64_t hash, int64_t now_ns) {
  const int64_t now = std::max<int64_t>(0, (now_ns - epoch_ns_) / 1000);
  const uint64_t fp = Fingerprint(hash);
  std::atomic<uint64_t>* const first = &words_[hash & mask_];
  std::atomic<uint64_t>* const second = &words_[(hash & mask_) ^ 1];
  Decision d;
  // A lost race retries with what the winner wrote; after a few, the key is let through
  // rather than spin (it is being hammered by itself from every worker at once).
  for (int attempt = 0; attempt < 8; ++attempt) {
    uint64_t a = first->load(std::memory_order_acquire);
    uint64_t b = second->load(std::memory_order_acquire);
    std::atomic<uint64_t>* slot;
    uint64_t seen;
    int64_t tat = 0;
    if (FingerprintOf(a) == fp) {
      slot = first, seen = a, tat = TatOf(a);
    } else if (FingerprintOf(b) == fp) {
      slot = second, seen = b, tat = TatOf(b);
    } else if (TatOf(a) <= TatOf(b)) {  // a free slot has TAT 0: taken first
      slot = first, seen = a;
    } else {
      slot = second, seen = b;
    }
    tat = std::max(tat, now);
    if (tat - now > tolerance_us_) {
      d.allowed = false;
      d.retry_after_ns = (tat - now - tolerance_us_) * 1000;
      d.reset_ns = (tat - now) * 1000;
      return d;
    }
    const int64_t next = tat + interval_us_;
    if (slot->compare_exchange_weak(seen, Pack(fp, next), std::memory_order_acq_rel)) {
      d.allowed = true;
      const int64_t left = tolerance_us_ - (next - now);
      d.remaining = left < 0 ? 0 : static_cast<uint32_t>(left / interval_us_ + 1);
      d.reset_ns = (next - now) * 1000;
      return d;
    }
  }
  d.allowed = true;
  return d;
}

}  // namespace outrigger::plugins
