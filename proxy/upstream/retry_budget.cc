#include "proxy/upstream/retry_budget.h"

#include <cstddef>

namespace outrigger::upstream {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

}  // namespace

RetryBudget::RetryBudget(uint32_t budget_percent, uint32_t min_retries_per_second)
    : budget_percent_(budget_percent), min_retries_per_second_(min_retries_per_second) {}

RetryBudget::Bucket& RetryBudget::Current(int64_t now_ns) {
  const int64_t second = now_ns < 0 ? 0 : now_ns / kNanosPerSecond;
  Bucket& bucket = buckets_[static_cast<size_t>(second % kWindowSeconds)];
  if (bucket.second != second) bucket = Bucket{.second = second};
  return bucket;
}

void RetryBudget::OnRequest(int64_t now_ns) { ++Current(now_ns).requests; }

bool RetryBudget::TryRetry(int64_t now_ns) {
  Bucket& current = Current(now_ns);
  bool allowed = current.retries < min_retries_per_second_;
  if (!allowed) {
    uint64_t requests = 0;
    uint64_t retries = 0;
    for (const Bucket& b : buckets_) {
      // Buckets from before the window have not been reused yet; skip them.
      if (b.second > current.second - kWindowSeconds && b.second <= current.second) {
        requests += b.requests;
        retries += b.retries;
      }
    }
    allowed = (retries + 1) * 100 <= requests * budget_percent_;
  }
  if (allowed) ++current.retries;
  return allowed;
}

}  // namespace outrigger::upstream
