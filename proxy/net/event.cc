#include "proxy/net/event.h"

#include <event2/thread.h>

#include <cstdlib>

#include "proxy/base/log.h"

namespace outrigger::net {

void InitLibevent() {
  if (evthread_use_pthreads() != 0) {
    spdlog::critical("libevent: cannot enable pthreads support");
    std::abort();
  }
}

EventBasePtr NewEventBase() {
  EventBasePtr base(event_base_new());
  if (!base) {
    spdlog::critical("libevent: cannot create an event_base");
    std::abort();
  }
  return base;
}

}  // namespace outrigger::net
