#include "proxy/net/mailbox.h"

namespace outrigger::net {

Mailbox::Mailbox(event_base* base) : wake_(event_new(base, -1, 0, &Mailbox::OnWake, this)) {}

void Mailbox::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }
  event_active(wake_.get(), 0, 0);
}

void Mailbox::OnWake(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Mailbox*>(arg);
  std::deque<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    batch.swap(self->tasks_);
  }
  for (auto& task : batch) task();
}

}  // namespace outrigger::net
