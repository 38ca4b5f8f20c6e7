// Server: the process's lifecycle on the control thread — load the config, start workers,
// serve the admin listener, and react to signals: SIGTERM/SIGINT drain and exit 0, SIGHUP
// reloads the config file.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proxy/admin/admin_server.h"
#include "proxy/forward/snapshot.h"
#include "proxy/forward/worker.h"
#include "proxy/net/event.h"
#include "proxy/upstream/health_checker.h"

namespace outrigger::app {

class Server {
 public:
  explicit Server(std::string config_path);
  ~Server();

  // Runs until drained after SIGTERM/SIGINT. Returns the process exit code; a start-up
  // failure (bad config, a port in use) is logged and yields 1.
  int Run();

 private:
  absl::Status Start();
  void BeginDrain();
  void Reload();
  // Makes `snapshot` the current one: every worker adopts it at its next request boundary
  // (requests in flight finish on the one they began on). Every change of configuration or of
  // the backend set (reload, DNS) goes through here.
  void Publish(std::shared_ptr<const forward::Snapshot> snapshot);
  void CheckDrained();
  static void OnSignal(evutil_socket_t sig, short, void* self);
  static void OnDrainTick(evutil_socket_t, short, void* self);
  static void OnCircuitTick(evutil_socket_t, short, void* self);
  void OfferHalfOpenBackends();
  // Recomputes each pool's balancing panic (upstream/panic.h) from its backends' state.
  void UpdateBalancingPanic();
  // /health/ready: listeners bound, not draining, every pool with a live and ready backend.
  bool Ready() const;

  const std::string config_path_;
  net::EventBasePtr base_;
  std::shared_ptr<const forward::Snapshot> snapshot_;
  std::vector<std::unique_ptr<forward::Worker>> workers_;
  std::unique_ptr<upstream::HealthChecker> health_;
  std::unique_ptr<admin::AdminServer> admin_;
  std::vector<net::EventPtr> signals_;
  net::EventPtr drain_tick_;
  net::EventPtr circuit_tick_;
  bool ready_ = false;
  bool draining_ = false;
  int64_t drain_deadline_ns_ = 0;
};

}  // namespace outrigger::app
