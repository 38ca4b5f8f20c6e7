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
  // The epoll changelist folds the add/delete pairs a bufferevent makes within one loop
  // turn (enable write, flush, disable write) into one epoll_ctl or none: two fewer
  // syscalls per proxied request. Its caveat, fds dup()ed between changes, does not apply:
  // we never dup a socket.
  std::unique_ptr<event_config, Deleter<event_config_free>> config(event_config_new());
  if (config) event_config_set_flag(config.get(), EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
  EventBasePtr base(config ? event_base_new_with_config(config.get()) : event_base_new());
  if (!base) {
    spdlog::critical("libevent: cannot create an event_base");
    std::abort();
  }
  return base;
}

}  // namespace outrigger::net
