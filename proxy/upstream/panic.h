// Balancing panic (Envoy's healthy panic threshold): when too few of a pool's backends are
// usable, balancing over the usable few would pile the whole load onto them and likely take
// them down too, often because of a health probe that is failing for the wrong reason. Below
// the threshold the pool balances over all its backends, usable or not, and accepts some
// failed requests instead of certain overload.
//
// Unlike Envoy, a pool with no usable backend at all is not in panic: there are no few left
// to protect, so the answer is a fast 503 with Retry-After (as HAProxy and nginx give) and
// the probes' log says why, rather than requests sent to backends known to be down.
//
// Not to be confused with the scaling signals' panic mode (outrigger_pool_panic), which is
// about demand, not health.
//
// Pure function: usable from any thread.
#pragma once

#include <cstddef>

namespace outrigger::upstream {

// True when some but fewer than threshold_percent % of `total` backends are usable. Never in
// panic with no usable backend, or with a threshold <= 0 (which disables panic). Envoy's default
// threshold is 50.
bool InPanic(size_t usable, size_t total, double threshold_percent);

}  // namespace outrigger::upstream
