// Server: the process's lifecycle on the control thread — load the config, start workers,
// serve the admin listener, and react to signals: SIGTERM/SIGINT drain and exit 0, SIGHUP
// reloads the config file.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "proxy/admin/admin_server.h"
#include "proxy/app/config_load.h"
#include "proxy/forward/snapshot.h"
#include "proxy/forward/worker.h"
#include "proxy/metrics/collector.h"
#include "proxy/metrics/process.h"
#include "proxy/metrics/recent.h"
#include "proxy/metrics/scaling_board.h"
#include "proxy/net/event.h"
#include "proxy/net/listener.h"
#include "proxy/upstream/dns_discovery.h"
#include "proxy/upstream/health_checker.h"
#include "proxy/upstream/operator_overrides.h"

namespace outrigger::app {

class Server {
 public:
  // An admin API mutation's answer: status code and JSON body.
  using AdminAnswer = admin::AdminServer::Hooks::Answer;

  explicit Server(std::string config_path);
  ~Server();

  // Runs until drained after SIGTERM/SIGINT. Returns the process exit code; a start-up
  // failure (bad config, a port in use) is logged and yields 1.
  int Run();
  // Blocks SIGTERM, SIGINT and SIGHUP in the calling thread. main calls it before any thread
  // starts, so that every thread inherits the mask; Run unblocks them on the control thread
  // once its handlers are in place, and one sent meanwhile acts then (a SIGHUP during start-up
  // is a reload right after it) instead of killing the process.
  static void BlockSignals();

  // SIGHUP reloads by result: `failure` counts files that did not load, validate, or whose
  // new listeners could not be bound (the running config stayed). Control thread only.
  struct ReloadCounts {
    uint64_t success = 0;
    uint64_t failure = 0;
  };
  ReloadCounts reload_counts() const { return reloads_; }
  // Every `dns` backend entry: its address count, last resolution and last error (for
  // /status). Control thread only.
  std::vector<upstream::DnsEntryStatus> dns_status() const;

 private:
  absl::Status Start();
  void BeginDrain();
  void DrainWorkers();
  static void OnDrainDelay(evutil_socket_t, short, void* self);
  // SIGHUP: loads the config file off this thread (AsyncConfigLoad), then applies it.
  void Reload();
  // SIGUSR1: every access log file is reopened at its path (after logrotate renamed it).
  void ReopenAccessLogs();
  void OnConfigLoaded(absl::StatusOr<config::Config> cfg);
  // Applies a loaded config; an error (the running config stays) says why it was refused.
  absl::Status ApplyConfig(absl::StatusOr<config::Config> cfg);
  // The admin API's mutations (admin_actions.cc).
  AdminAnswer PatchBackend(std::string_view pool, std::string_view backend, std::string_view body);
  void AdminReload(std::function<void(AdminAnswer)> done);
  // POST /reload's answer: 200 {"result":"reloaded"}, or 400 {"result":"refused","errors":[...]}.
  static AdminAnswer ReloadAnswer(const absl::Status& result);
  // `admin.token_file`'s token (trailing whitespace dropped); nullopt when the key is unset.
  static absl::StatusOr<std::optional<std::string>> ReadToken(const config::Config& config);
  // Binds, for every worker, a socket for each listener of `next` that the running config
  // lacks: [worker][k]. Fails (closing what it bound) when one cannot be bound.
  absl::StatusOr<std::vector<std::vector<net::ListenSocket>>> BindNewListeners(
      const config::Config& next);
  // A resolution changed a `dns` entry's addresses: the running config, with the new sets.
  void OnDnsChange();
  // Makes `snapshot` the current one: every worker adopts it at its next request boundary
  // (requests in flight finish on the one they began on). Every change of configuration or of
  // the backend set (reload, DNS) goes through here. `listener_sockets[w]` are worker w's
  // sockets for the listeners `snapshot` adds (BindNewListeners).
  void Publish(std::shared_ptr<const forward::Snapshot> snapshot,
               std::vector<std::vector<net::ListenSocket>> listener_sockets = {});
  void CheckDrained();
  static void OnSignal(evutil_socket_t sig, short, void* self);
  static void OnDrainTick(evutil_socket_t, short, void* self);
  static void OnCircuitTick(evutil_socket_t, short, void* self);
  void OfferHalfOpenBackends();
  // Recomputes each pool's balancing panic (upstream/panic.h) from its backends' state.
  void UpdateBalancingPanic();
  // /health/ready: listeners bound, not draining, every pool with a live and ready backend.
  bool Ready() const;
  // Refuses a listener max_connections below the worker count (see the definition).
  static absl::Status CheckConnectionLimits(const config::Config& config, size_t workers);
  static void OnScalingTick(evutil_socket_t, short, void* self);
  // Once a second: merge the shards, derive the scaling signals, keep /status's window, and
  // watch RSS against the memory limit.
  void ScalingTick();
  std::string MetricsText() const;

  const std::string config_path_;
  // Declared before the workers: they register their shards with it and must not outlive it.
  metrics::Collector collector_;
  metrics::ScalingBoard scaling_;
  metrics::Recent recent_;
  metrics::ProcessCollector process_;
  bool rss_warned_ = false;
  net::EventBasePtr base_;
  std::shared_ptr<const forward::Snapshot> snapshot_;
  std::vector<std::unique_ptr<forward::Worker>> workers_;
  std::unique_ptr<upstream::HealthChecker> health_;
  std::unique_ptr<admin::AdminServer> admin_;
  std::vector<net::EventPtr> signals_;
  net::EventPtr drain_delay_;
  net::EventPtr drain_tick_;
  net::EventPtr circuit_tick_;
  // After base_: its resolver's events must go before the loop does.
  std::unique_ptr<upstream::DnsDiscovery> dns_;
  std::unique_ptr<AsyncConfigLoad> config_load_;
  ReloadCounts reloads_;
  net::EventPtr scaling_tick_;
  // An operator's states and weights (admin API), applied at every Publish.
  upstream::OperatorOverrides overrides_;
  // Backends left out of the last HealthChecker::Track (maint): probed afresh when back.
  absl::flat_hash_set<const upstream::Backend*> unprobed_;
  // POST /reload requests waiting for the load under way.
  std::vector<std::function<void(AdminAnswer)>> reload_waiters_;
  bool ready_ = false;
  bool draining_ = false;
  int64_t drain_deadline_ns_ = 0;
};

}  // namespace outrigger::app
