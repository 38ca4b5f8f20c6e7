// RAII over libevent handles: every libevent object lives in a unique_ptr with its deleter,
// so no error path can leak one and no owner frees one twice.
#pragma once

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include <chrono>
#include <memory>

namespace outrigger::net {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    if (p != nullptr) Free(p);
  }
};

using EventBasePtr = std::unique_ptr<event_base, Deleter<event_base_free>>;
using EventPtr = std::unique_ptr<event, Deleter<event_free>>;
using EvBufferPtr = std::unique_ptr<evbuffer, Deleter<evbuffer_free>>;
using ListenerPtr = std::unique_ptr<evconnlistener, Deleter<evconnlistener_free>>;
using EvHttpPtr = std::unique_ptr<evhttp, Deleter<evhttp_free>>;

// libevent's form of a duration (timeouts, timers).
inline timeval ToTimeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

// Makes libevent safe to signal across threads (event_active from another thread). Called
// once by main() before any event_base exists.
void InitLibevent();

// Who may touch an event_base. A worker's base is only ever used by its own thread (other
// threads reach it through its Mailbox, which needs no libevent call), so it goes without
// libevent's lock: that lock is taken on every event_add/event_del, several times a request.
enum class BaseThreads { kAny, kOwnerOnly };

// A new event_base; aborts the process when libevent cannot make one (out of memory or
// descriptors at start-up: nothing sensible can continue).
EventBasePtr NewEventBase(BaseThreads threads = BaseThreads::kAny);

}  // namespace outrigger::net
