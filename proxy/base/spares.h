// Spares: objects a loop has finished with, kept for reuse instead of freed — per-request
// state between requests, a connection's buffers while it is idle. Taking one back costs a
// vector pop instead of an allocation, and objects that come and go with each request do not
// scatter through the heap between long-lived ones.
//
// Ptr is an owning pointer (std::unique_ptr with any deleter). At most `max` spares are kept;
// more given back are freed. Loop affinity: one loop; no locking.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace outrigger::base {

template <typename Ptr>
class Spares {
 public:
  explicit Spares(size_t max) : max_(max) {}

  // The most recently given spare (warm in cache), or null when there is none.
  Ptr Take() {
    if (spares_.empty()) return nullptr;
    Ptr spare = std::move(spares_.back());
    spares_.pop_back();
    return spare;
  }
  // REQUIRES: `spare` is as a new one would be (the caller resets what it must); null is
  // ignored.
  void Give(Ptr spare) {
    if (spare != nullptr && spares_.size() < max_) spares_.push_back(std::move(spare));
  }
  size_t size() const { return spares_.size(); }

 private:
  const size_t max_;
  std::vector<Ptr> spares_;
};

}  // namespace outrigger::base
