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

EventBasePtr NewEventBase(BaseThreads threads) {
  using ConfigPtr = std::unique_ptr<event_config, Deleter<event_config_free>>;
  ConfigPtr config(event_config_new());
  if (config && threads == BaseThreads::kOwnerOnly) {
    event_config_set_flag(config.get(), EVENT_BASE_FLAG_NOLOCK);
  }
  EventBasePtr base(config ? event_base_new_with_config(config.get()) : nullptr);
  if (!base) {
    spdlog::critical("libevent: cannot create an event_base");
    std::abort();
  }
  return base;
}

}  // namespace outrigger::net
