// RetryBudget: caps retries at a share of the client requests a pool has seen recently, so
// that when a pool's backends fail, retries cannot multiply the load on them (a retry storm).
// A small floor of retries per second remains, so that a quiet pool, whose few requests
// would earn no budget, can still retry a lone failure (Linkerd's minRetriesPerSecond and
// Envoy's min_retry_concurrency serve the same end).
//
// A retry is allowed when either holds:
//   - retries in the last 10 s stay within budget_percent of requests in the last 10 s;
//   - fewer than min_retries_per_second retries have been allowed in the current second.
// The window is a ring of ten one-second buckets, so it slides a second at a time.
//
// Thread contract: one budget per pool per worker, used only on that worker's loop; not
// synchronised. Each worker spends its own share, which needs no sharing because the
// kernel spreads connections over workers.
#pragma once

#include <array>
#include <cstdint>

namespace outrigger::upstream {

class RetryBudget {
 public:
  static constexpr int kWindowSeconds = 10;

  // budget_percent: retries allowed per 100 client requests (design.md retries.budget_percent).
  explicit RetryBudget(uint32_t budget_percent, uint32_t min_retries_per_second = 10);

  // A client request arrived. Once per client request: retries are not requests, or they
  // would earn budget for themselves.
  void OnRequest(int64_t now_ns);

  uint32_t budget_percent() const { return budget_percent_; }

  // Whether a retry may be sent now; when it may, it is recorded as spent.
  bool TryRetry(int64_t now_ns);

 private:
  struct Bucket {
    int64_t second = -1;  // which second the counts belong to; -1: never used
    uint32_t requests = 0;
    uint32_t retries = 0;
  };
  // The bucket for now_ns, emptied first if it holds an older second.
  Bucket& Current(int64_t now_ns);

  // Constant after construction.
  const uint32_t budget_percent_;
  const uint32_t min_retries_per_second_;

  std::array<Bucket, kWindowSeconds> buckets_;
};

}  // namespace outrigger::upstream
