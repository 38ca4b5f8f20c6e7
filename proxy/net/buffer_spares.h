// BufferSpares: empty evbuffers kept for reuse by one loop's streams. A keep-alive client
// connection gives its buffers back whenever it waits for a request with nothing buffered
// (Stream::ReleaseBuffers), and takes them again with its next request: through spares that
// costs a vector push and pop instead of a calloc and a free of each, and the buffers of
// connections that come and go do not scatter through the heap between long-lived ones.
//
// Loop affinity: one loop (a Worker's); no locking.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "proxy/net/event.h"

namespace outrigger::net {

class BufferSpares {
 public:
  explicit BufferSpares(size_t max) : max_(max) {}

  EvBufferPtr Take() {
    if (spares_.empty()) return EvBufferPtr(evbuffer_new());
    EvBufferPtr buffer = std::move(spares_.back());
    spares_.pop_back();
    return buffer;
  }
  // REQUIRES: `buffer` is empty, with no callbacks and not frozen (as Stream leaves it).
  // Beyond `max` spares it is freed.
  void Give(EvBufferPtr buffer) {
    if (spares_.size() < max_) spares_.push_back(std::move(buffer));
  }
  size_t size() const { return spares_.size(); }

 private:
  const size_t max_;
  std::vector<EvBufferPtr> spares_;  // most recently given last: warm in cache
};

}  // namespace outrigger::net
