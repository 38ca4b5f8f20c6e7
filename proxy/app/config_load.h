// AsyncConfigLoad: reads and validates the config file for a reload on a thread of its own,
// then hands the result to the control loop. Loading resolves `address: host:port`
// backends with getaddrinfo, which blocks for seconds behind a slow or dead DNS server; on
// the control thread that would stall the admin listener, DNS discovery, probes and the
// signals for as long.
//
// Thread contract: Start() and the callback run on the loop's thread; only the load itself
// runs elsewhere, on its own copy of the path, and touches nothing else.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proxy/config/config.h"
#include "proxy/net/event.h"

namespace outrigger::app {

class AsyncConfigLoad {
 public:
  using Done = std::function<void(absl::StatusOr<config::Config>)>;

  // REQUIRES: `base` accepts event_active from other threads (net::BaseThreads::kAny) and
  // outlives this object.
  AsyncConfigLoad(event_base* base, std::string path, Done done);
  // A load still running finishes on its thread and its result is dropped.
  ~AsyncConfigLoad();
  AsyncConfigLoad(const AsyncConfigLoad&) = delete;
  AsyncConfigLoad& operator=(const AsyncConfigLoad&) = delete;

  // Loads the file and calls `done` with the result. A Start() while a load runs makes one
  // more load follow it (the file may have changed after it was read); several collapse
  // into one.
  void Start();

 private:
  struct Shared;
  void Launch();
  static void OnLoaded(evutil_socket_t, short, void* self);

  const std::string path_;
  Done done_;
  net::EventPtr loaded_;
  std::shared_ptr<Shared> shared_;
  bool running_ = false;
  bool again_ = false;
};

}  // namespace outrigger::app
