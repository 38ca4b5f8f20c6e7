#include "plugins/gcra_table.h"

#include <algorithm>

namespace outrigger::plugins {
namespace {

size_t SlotsFor(size_t max_keys) {
  size_t n = 2;
  while (n < max_keys) n <<= 1;
  return n;
}

// The config keeps a bucket's refill within a year (plugin_reader.cc): far below this.
constexpr int64_t kMaxToleranceUs = int64_t{1} << 50;

}  // namespace

GcraTable::GcraTable(size_t max_keys, int64_t interval_ns, uint32_t burst, int64_t epoch_ns)
    : mask_(SlotsFor(max_keys) - 1),
      interval_us_(std::max<int64_t>(1, interval_ns / 1000)),
      // The config keeps burst * interval within a year; saturate rather than overflow.
      tolerance_us_(static_cast<int64_t>(std::min<__int128>(
          static_cast<__int128>(interval_us_) * (static_cast<int64_t>(burst) - 1),
          kMaxToleranceUs))),
      epoch_ns_(epoch_ns),
      slots_(std::make_unique<Slot[]>(mask_ + 1)) {}

GcraTable::Decision GcraTable::Take(uint64_t hash, int64_t now_ns) {
  // A free slot's TAT is 0 and every TAT written is at least one interval on: free slots
  // are always the earliest.
  const int64_t now = std::max<int64_t>(0, (now_ns - epoch_ns_) / 1000);
  const uint64_t key = hash | 1;
  Slot* const first = &slots_[hash & mask_];
  Slot* const second = &slots_[(hash & mask_) ^ 1];
  Decision d;
  // A lost race retries with what the winner wrote; after a few, the key is let through
  // rather than spin (it is being hammered by itself from every worker at once).
  for (int attempt = 0; attempt < 8; ++attempt) {
    Slot* slot = nullptr;
    if (first->key.load(std::memory_order_acquire) == key) {
      slot = first;
    } else if (second->key.load(std::memory_order_acquire) == key) {
      slot = second;
    } else {
      // A new key (or one forgotten): it takes the slot nearest a full bucket.
      Slot* victim =
          first->tat.load(std::memory_order_acquire) <= second->tat.load(std::memory_order_acquire)
              ? first
              : second;
      uint64_t old = victim->key.load(std::memory_order_acquire);
      if (old == key || !victim->key.compare_exchange_strong(old, key, std::memory_order_acq_rel)) {
        continue;
      }
      const int64_t next = now + interval_us_;
      victim->tat.store(next, std::memory_order_release);
      return Allowed(now, next);
    }
    int64_t seen = slot->tat.load(std::memory_order_acquire);
    const int64_t tat = std::max(seen, now);
    if (tat - now > tolerance_us_) {
      d.allowed = false;
      d.retry_after_ns = (tat - now - tolerance_us_) * 1000;
      d.reset_ns = (tat - now) * 1000;
      return d;
    }
    const int64_t next = tat + interval_us_;
    if (slot->tat.compare_exchange_weak(seen, next, std::memory_order_acq_rel)) {
      return Allowed(now, next);
    }
  }
  d.allowed = true;
  return d;
}

GcraTable::Decision GcraTable::Allowed(int64_t now, int64_t next) const {
  Decision d;
  d.allowed = true;
  const int64_t left = tolerance_us_ - (next - now);
  d.remaining = left < 0 ? 0 : static_cast<uint32_t>(left / interval_us_ + 1);
  d.reset_ns = (next - now) * 1000;
  return d;
}

}  // namespace outrigger::plugins
