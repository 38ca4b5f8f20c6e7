// What the store tests share: a StoreWait that counts its answers, and a loop run until a
// condition holds (or a bound passes), as the worker's loop would run.
#pragma once

#include <cstdint>

#include "plugins/store/store_wait.h"
#include "proxy/base/clock.h"
#include "proxy/net/event.h"

namespace outrigger::plugins {

struct Waiter {
  Waiter() {
    wait.SetCallback([](void* self) { ++static_cast<Waiter*>(self)->calls; }, this);
  }
  StoreWait wait;
  int calls = 0;
};

// Runs `base` until `done()` or `bound_ns`; done()'s last value.
template <typename Done>
bool RunLoopUntil(event_base* base, Done done, int64_t bound_ns = 10'000'000'000) {
  const int64_t end = MonoNanos() + bound_ns;
  while (!done() && MonoNanos() < end) event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
  return done();
}

}  // namespace outrigger::plugins
