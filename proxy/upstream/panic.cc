#include "proxy/upstream/panic.h"

namespace outrigger::upstream {

bool InPanic(size_t usable, size_t total, double threshold_percent) {
  // `!(x > 0)` also rejects NaN.
  if (usable == 0 || !(threshold_percent > 0) || usable >= total) return false;
  return static_cast<double>(usable) * 100.0 < threshold_percent * static_cast<double>(total);
}

}  // namespace outrigger::upstream
