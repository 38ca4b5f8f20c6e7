#include "proxy/net/mailbox.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "proxy/base/log.h"

namespace outrigger::net {

Mailbox::Mailbox(event_base* base) : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) {
    spdlog::critical("eventfd: {}", std::strerror(errno));
    std::abort();
  }
  wake_.reset(event_new(base, fd_, EV_READ | EV_PERSIST, &Mailbox::OnWake, this));
  event_add(wake_.get(), nullptr);
}

Mailbox::~Mailbox() {
  wake_.reset();
  close(fd_);
}

void Mailbox::Post(std::function<void()> task) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    was_empty = tasks_.empty();
    tasks_.push_back(std::move(task));
  }
  // One wake-up per batch: the loop takes every queued task when it wakes.
  if (was_empty) {
    uint64_t one = 1;
    ssize_t n = write(fd_, &one, sizeof(one));
    (void)n;  // only fails when the counter is saturated, and then the loop is awake anyway
  }
}

void Mailbox::OnWake(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Mailbox*>(arg);
  uint64_t count;
  ssize_t n = read(self->fd_, &count, sizeof(count));
  (void)n;  // EAGAIN: a wake-up already consumed; the queue says what there is to do
  std::deque<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    batch.swap(self->tasks_);
  }
  for (auto& task : batch) task();
}

}  // namespace outrigger::net
