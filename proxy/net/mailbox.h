// Mailbox: how one thread hands work to another thread's event loop.
//
// Post() may be called from any thread; the task runs on the owning loop's thread, in
// order of posting. This is control-plane traffic (snapshots, drain orders, stats
// requests), never per request, so a mutex-guarded queue is the simple right tool. The
// wake-up is an eventfd the loop watches, not event_active from the posting thread, so the
// owning loop's event_base needs no lock (BaseThreads::kOwnerOnly).
#pragma once

#include <deque>
#include <functional>
#include <mutex>

#include "proxy/net/event.h"

namespace outrigger::net {

class Mailbox {
 public:
  // REQUIRES: `base` outlives the mailbox. Aborts when no eventfd can be made (start-up only).
  explicit Mailbox(event_base* base);
  ~Mailbox();
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  void Post(std::function<void()> task);

 private:
  static void OnWake(evutil_socket_t, short, void* self);

  int fd_;  // eventfd: its counter is non-zero while tasks wait
  EventPtr wake_;
  std::mutex mu_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
};

}  // namespace outrigger::net
