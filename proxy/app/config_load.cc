#include "proxy/app/config_load.h"

#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "proxy/config/loader.h"

namespace outrigger::app {

// What the loading thread and the loop share; the thread keeps it alive past the owner.
struct AsyncConfigLoad::Shared {
  std::mutex mu;
  event* loaded = nullptr;  // nullptr once the owner is gone
  std::optional<absl::StatusOr<config::Config>> result;
};

AsyncConfigLoad::AsyncConfigLoad(event_base* base, std::string path, Done done)
    : path_(std::move(path)),
      done_(std::move(done)),
      loaded_(event_new(base, -1, 0, &AsyncConfigLoad::OnLoaded, this)),
      shared_(std::make_shared<Shared>()) {
  shared_->loaded = loaded_.get();
}

AsyncConfigLoad::~AsyncConfigLoad() {
  std::lock_guard lock(shared_->mu);
  shared_->loaded = nullptr;
}

void AsyncConfigLoad::Start() {
  if (running_) {
    again_ = true;
    return;
  }
  Launch();
}

void AsyncConfigLoad::Launch() {
  running_ = true;
  again_ = false;
  // Detached: a load stuck in getaddrinfo must not hold up the process's exit.
  std::thread([shared = shared_, path = path_] {
    absl::StatusOr<config::Config> cfg = config::LoadConfigFile(path);
    std::lock_guard lock(shared->mu);
    if (shared->loaded == nullptr) return;
    shared->result = std::move(cfg);
    event_active(shared->loaded, 0, 0);
  }).detach();
}

void AsyncConfigLoad::OnLoaded(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<AsyncConfigLoad*>(arg);
  std::optional<absl::StatusOr<config::Config>> result;
  {
    std::lock_guard lock(self->shared_->mu);
    result = std::exchange(self->shared_->result, std::nullopt);
  }
  self->running_ = false;
  if (result) self->done_(*std::move(result));
  // A SIGHUP came while this load ran: the file may have changed after it was read.
  if (self->again_ && !self->running_) self->Launch();
}

}  // namespace outrigger::app
