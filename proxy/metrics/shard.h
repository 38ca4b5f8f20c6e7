// Shard: one worker's request counters, so the request path counts without locks, hashing or
// contended read-modify-writes (design.md §2). Each worker owns one Shard per MetricLayout it
// still has requests on; the scrape and the scaling tick read every shard and merge them.
//
// Thread contract: the On*() recorders are called only by the owning worker (single writer).
// Read() may be called from any thread at any time. Every field is a std::atomic written with
// relaxed load + store (no fetch_add: there is one writer), so readers see each field whole;
// a reading is per-field consistent, except each busy integral, whose three fields are read
// under a seqlock so that busy-seconds never run backwards between scrapes.
//
// Ids: a BackendId / PoolId is an index into the MetricLayout built with the config snapshot;
// passing an id outside the layout is undefined behavior.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/metrics/histogram_buckets.h"

namespace outrigger::metrics {

// False only in a build with -DOUTRIGGER_METRICS_RECORDING=OFF, which exists so that
// scripts/bench --metrics-off can measure the request path alone: every per-request recorder
// of Shard returns at once, and /metrics, /status and /scaling read zeros. Never ship it.
#ifdef OUTRIGGER_NO_METRICS_RECORDING
inline constexpr bool kRecording = false;
#else
inline constexpr bool kRecording = true;
#endif

using PoolId = uint32_t;
using BackendId = uint32_t;
using ListenerId = uint32_t;

// The series a snapshot has: pools by PoolId, backends by BackendId, listeners by ListenerId
// (the `listener` label of the outrigger_downstream_* families). Immutable once built;
// shared by the snapshot, the workers' shards and the collector. Identity across layouts is
// (pool name, backend label), which is how counters of one backend survive a reload.
// REQUIRES: pool names unique, and (pool, label) unique, or the exposition repeats a series.
struct MetricLayout {
  struct Backend {
    PoolId pool;
    std::string label;  // the `backend` label: configured name or "ip:port"
  };
  std::vector<std::string> pools;
  std::vector<Backend> backends;
  std::vector<std::string> listeners;
  // Per listener (same index): its certificates, empty for a plain listener, which then has
  // no outrigger_tls_* series.
  struct Certificate {
    std::string name;       // the `name` label: the subject CN (else the first SAN name)
    int64_t not_after = 0;  // Unix seconds
  };
  std::vector<std::vector<Certificate>> listener_certificates;
  // outrigger_plugin_actions_total's series, by the ids plugins count with (one per
  // (pool, plugin, action), shared by the routes that have the same; pool "" for a route
  // without one).
  struct PluginAction {
    std::string pool;
    std::string plugin;
    std::string action;
  };
  std::vector<PluginAction> plugin_actions;
};

// `code` label values, indexed by status / 100 - 1.
inline constexpr size_t kCodeClassCount = 5;
inline constexpr std::array<std::string_view, kCodeClassCount> kCodeClassLabels = {
    "1xx", "2xx", "3xx", "4xx", "5xx"};

// outrigger_backend_failures_total{reason}: transport failures of one attempt.
enum class FailureReason : uint8_t { kConnect, kTimeout, kReset, kProtocol };
inline constexpr size_t kFailureReasonCount = 4;
inline constexpr std::array<std::string_view, kFailureReasonCount> kFailureReasonLabels = {
    "connect", "timeout", "reset", "protocol"};

// outrigger_pool_shed_requests_total{reason}: why the pool answered without a backend.
enum class ShedReason : uint8_t { kNoBackend, kCircuitOpen, kOverLimit };
inline constexpr size_t kShedReasonCount = 3;
inline constexpr std::array<std::string_view, kShedReasonCount> kShedReasonLabels = {
    "no_backend", "circuit_open", "over_limit"};

// outrigger_pool_request_duration_seconds{outcome}, as the client saw the request.
enum class PoolOutcome : uint8_t { kOk, kError };
inline constexpr size_t kPoolOutcomeCount = 2;
inline constexpr std::array<std::string_view, kPoolOutcomeCount> kPoolOutcomeLabels = {"ok",
                                                                                       "error"};

// outrigger_pool_grpc_calls_total / outrigger_backend_grpc_calls_total{grpc_status}: the class
// of a gRPC call's grpc-status (http::GrpcClass, same order), or kNone for a call that ended
// without one (the client cancelled, a reset, the connection lost; pool series only).
enum class GrpcOutcome : uint8_t { kOk, kClient, kServer, kInvalid, kNone };
inline constexpr size_t kGrpcOutcomeCount = 5;
inline constexpr std::array<std::string_view, kGrpcOutcomeCount> kGrpcOutcomeLabels = {
    "ok", "client", "server", "invalid", "none"};

// outrigger_tls_handshakes_total{result, version}: result ok / failed, then the version agreed
// (kNone: a handshake that failed before one was).
enum class TlsVersion : uint8_t { kTls12, kTls13, kNone };
inline constexpr size_t kTlsVersionCount = 3;
inline constexpr std::array<std::string_view, kTlsVersionCount> kTlsVersionLabels = {
    "TLSv1.2", "TLSv1.3", "none"};
// outrigger_tls_handshake_failures_total{reason}; tls::HandshakeFailure's meanings.
enum class TlsFailure : uint8_t {
  kVersion,
  kCipher,
  kPlainHttp,
  kPeerAlert,
  kClientCertificate,
  kAborted,
  kProtocol
};
inline constexpr size_t kTlsFailureCount = 7;
inline constexpr std::array<std::string_view, kTlsFailureCount> kTlsFailureLabels = {
    "version", "cipher", "plain_http", "peer_alert", "client_certificate", "aborted", "protocol"};

// ---- Plain totals: what a reading and a merge produce. Values, usable from any thread. ----

struct HistogramTotals {
  std::array<uint64_t, kLatencyBucketCount> buckets{};  // per bucket, not cumulative
  uint64_t sum_ns = 0;

  // The number of observations: the sum of the buckets, so +Inf always equals _count.
  uint64_t Count() const;
  HistogramTotals& operator+=(const HistogramTotals& other);
};

struct BackendTotals {
  std::array<uint64_t, kCodeClassCount> requests{};
  HistogramTotals latency;
  std::array<uint64_t, kFailureReasonCount> failures{};
  uint64_t retries = 0;
  uint64_t busy_ns = 0;  // ∫ in-flight dt, up to the reading's time
  int64_t inflight = 0;  // attempts in flight now (started, not ended)
  int64_t tunnels = 0;   // upgraded connections open now
  std::array<uint64_t, kGrpcOutcomeCount> grpc_calls{};  // answers with a grpc-status

  BackendTotals& operator+=(const BackendTotals& other);
};

struct PoolTotals {
  std::array<uint64_t, kCodeClassCount> requests{};
  std::array<HistogramTotals, kPoolOutcomeCount> duration;
  std::array<uint64_t, kShedReasonCount> shed{};
  uint64_t busy_ns = 0;     // ∫ (in-flight + pending) dt, up to the reading's time
  int64_t concurrency = 0;  // client requests in the pool now: in flight or pending
  std::array<uint64_t, kGrpcOutcomeCount> grpc_calls{};  // by the grpc-status the client got

  // Client requests counted, all codes: the demand the rps signal stands on.
  uint64_t RequestCount() const;
  PoolTotals& operator+=(const PoolTotals& other);
};

struct ListenerTotals {
  std::array<uint64_t, kCodeClassCount> requests{};     // responses sent to clients, by class
  std::array<uint64_t, kCodeClassCount> h2_requests{};  // those of them sent over HTTP/2
  HistogramTotals duration;  // request head complete to last response byte queued
  int64_t connections = 0;   // client connections open now
  // TLS listeners: handshakes [ok, failed][TlsVersion], and failures by TlsFailure.
  std::array<std::array<uint64_t, kTlsVersionCount>, 2> tls_handshakes{};
  std::array<uint64_t, kTlsFailureCount> tls_failures{};

  ListenerTotals& operator+=(const ListenerTotals& other);
};

// Totals indexed like `layout`: backends[BackendId], pools[PoolId], listeners[ListenerId].
struct Totals {
  std::shared_ptr<const MetricLayout> layout;
  std::vector<BackendTotals> backends;
  std::vector<PoolTotals> pools;
  std::vector<ListenerTotals> listeners;
  std::vector<uint64_t> plugin_actions;
};

// Adds `from` into `into` by identity (pool name, backend label, listener name, plugin
// action's labels): series of
// `from` that `into`'s layout does not have are dropped. REQUIRES: into.layout set and the
// vectors sized to it.
void AddByIdentity(Totals& into, const Totals& from);

// ---- Single-writer cells. ----

// A gauge with one writer, same contract as ShardCounter. It may go below zero within one
// shard (a connection opened under one layout and closed under the next); only the sum over
// shards by identity is meaningful.
class ShardGauge {
 public:
  // Owning worker only.
  void Add(int64_t n) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  // Any thread.
  int64_t Load() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// A counter with one writer: relaxed load + store, readable whole by any thread.
class ShardCounter {
 public:
  // Owning worker only.
  void Add(uint64_t n) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  // Any thread.
  uint64_t Load() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// ∫ concurrency dt in nanoseconds, exact: at every change the elapsed time since the last
// change is charged at the concurrency that held over it. One writer; Read() from any thread
// sees (busy, concurrency, last change) from the same write (a seqlock), so the open interval
// can be added without double counting.
class BusyIntegral {
 public:
  // Writer only. A `now_ns` earlier than the last change (a clock step) charges nothing.
  void Add(int64_t now_ns, int64_t delta);
  // Any thread: busy nanoseconds up to max(now_ns, last change).
  uint64_t Read(int64_t now_ns) const;
  // Any thread: the concurrency now.
  int64_t Concurrency() const { return concurrency_.load(std::memory_order_relaxed); }

 private:
  // Data stores are release and reads acquire: that orders them against the sequence number
  // without standalone fences (which ThreadSanitizer does not model). Free on x86.
  std::atomic<uint64_t> sequence_{0};  // odd while a write is in progress
  std::atomic<uint64_t> busy_ns_{0};
  std::atomic<int64_t> concurrency_{0};
  std::atomic<int64_t> last_change_ns_{0};
};

class Shard {
 public:
  explicit Shard(std::shared_ptr<const MetricLayout> layout);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  const std::shared_ptr<const MetricLayout>& layout() const { return layout_; }

  // ---- Owning worker only. `now_ns` is MonoNanos() or the loop's cached equivalent; it must
  // not go backwards within this shard. ----

  // An attempt at `backend` starts (first request byte about to be written upstream). Every
  // start must be matched by exactly one OnRequestEnd, OnRequestFailed or OnRequestAbandoned.
  void OnRequestStart(BackendId backend, int64_t now_ns) {
    if constexpr (!kRecording) return;
    backends_[backend].busy.Add(now_ns, 1);
  }
  // The attempt got a response with `status` (counted by class; statuses outside 100..599 are
  // not counted by code) after `latency_ns` (first byte written to last byte read).
  void OnRequestEnd(BackendId backend, int64_t now_ns, int status, int64_t latency_ns);
  // The attempt ended without a response.
  void OnRequestFailed(BackendId backend, int64_t now_ns, FailureReason reason);
  // The attempt was dropped because the client went away first: it ends the in-flight interval
  // and counts nothing else, as it says nothing about the backend.
  void OnRequestAbandoned(BackendId backend, int64_t now_ns) {
    if constexpr (!kRecording) return;
    backends_[backend].busy.Add(now_ns, -1);
  }
  // The attempt about to start at `backend` is a retry; counted against the backend that
  // receives it. Call in addition to OnRequestStart.
  void OnRetry(BackendId backend) {
    if constexpr (!kRecording) return;
    backends_[backend].retries.Add(1);
  }

  // A client request enters `pool` (routed, before waiting for a backend): from here to
  // OnPoolRequestEnd it counts as pool concurrency, pending or in flight, across retries.
  void OnPoolRequestStart(PoolId pool, int64_t now_ns) {
    if constexpr (!kRecording) return;
    pools_[pool].busy.Add(now_ns, 1);
  }
  // The client's request is done: once per client request, with the status the client got
  // (statuses outside 100..599 are not counted by code) and the whole duration.
  void OnPoolRequestEnd(PoolId pool, int64_t now_ns, int status, int64_t duration_ns,
                        PoolOutcome outcome);
  // The pool answered without trying a backend. Call in addition to OnPoolRequestEnd.
  void OnShed(PoolId pool, ShedReason reason) {
    if constexpr (!kRecording) return;
    pools_[pool].shed[static_cast<size_t>(reason)].Add(1);
  }

  // gRPC calls (HTTP/2 requests with content-type application/grpc*). A call of `pool` ended
  // with `outcome` as the client got it (the proxy's own Trailers-Only answers included):
  // once per call. And `backend` answered an attempt with a grpc-status of class `outcome`
  // (never kNone): once per such answer.
  void OnGrpcCall(PoolId pool, GrpcOutcome outcome) {
    if constexpr (!kRecording) return;
    pools_[pool].grpc_calls[static_cast<size_t>(outcome)].Add(1);
  }
  void OnBackendGrpcStatus(BackendId backend, GrpcOutcome outcome) {
    if constexpr (!kRecording) return;
    backends_[backend].grpc_calls[static_cast<size_t>(outcome)].Add(1);
  }

  // An attempt at `backend` became a tunnel (101): call after its OnRequestEnd, and
  // OnTunnelClosed when the tunnel ends, on a shard of the same layout.
  void OnTunnelOpened(BackendId backend) {
    if constexpr (!kRecording) return;
    backends_[backend].tunnels.Add(1);
  }
  void OnTunnelClosed(BackendId backend) {
    if constexpr (!kRecording) return;
    backends_[backend].tunnels.Add(-1);
  }

  // A client connection on `listener` opened (+1) or closed (-1).
  void OnDownstreamConnection(ListenerId listener, int64_t delta) {
    if constexpr (!kRecording) return;
    listeners_[listener].connections.Add(delta);
  }
  // A response went to a client of `listener` (proxied or local: 400, 404, 503...), `duration`
  // after its request head was complete. Once per response.
  // `http2`: over HTTP/2 (the `protocol` label).
  void OnDownstreamResponse(ListenerId listener, int status, int64_t duration_ns,
                            bool http2 = false);
  // A TLS handshake on `listener` ended: ok, or failed for `why` (ignored when ok).
  void OnTlsHandshake(ListenerId listener, bool ok, TlsVersion version, TlsFailure why) {
    if constexpr (!kRecording) return;
    ListenerCells& cells = listeners_[listener];
    cells.tls_handshakes[ok ? 0 : 1][static_cast<size_t>(version)].Add(1);
    if (!ok) cells.tls_failures[static_cast<size_t>(why)].Add(1);
  }

  // A plugin acted (metrics::MetricLayout::plugin_actions id).
  void OnPluginAction(uint32_t action) {
    if constexpr (!kRecording) return;
    plugin_actions_[action].Add(1);
  }

  // ---- Any thread. ----

  // A copy of every counter, busy integrals evaluated at `now_ns`.
  Totals Read(int64_t now_ns) const;

 private:
  struct alignas(64) BackendCells {
    std::array<ShardCounter, kCodeClassCount> requests;
    std::array<ShardCounter, kLatencyBucketCount> latency_buckets;
    ShardCounter latency_sum_ns;
    std::array<ShardCounter, kFailureReasonCount> failures;
    ShardCounter retries;
    ShardGauge tunnels;
    std::array<ShardCounter, kGrpcOutcomeCount> grpc_calls;
    BusyIntegral busy;
  };
  struct alignas(64) PoolCells {
    std::array<ShardCounter, kCodeClassCount> requests;
    std::array<std::array<ShardCounter, kLatencyBucketCount>, kPoolOutcomeCount> duration_buckets;
    std::array<ShardCounter, kPoolOutcomeCount> duration_sum_ns;
    std::array<ShardCounter, kShedReasonCount> shed;
    std::array<ShardCounter, kGrpcOutcomeCount> grpc_calls;
    BusyIntegral busy;
  };
  struct alignas(64) ListenerCells {
    std::array<ShardCounter, kCodeClassCount> requests;
    std::array<ShardCounter, kCodeClassCount> h2_requests;
    std::array<ShardCounter, kLatencyBucketCount> duration_buckets;
    ShardCounter duration_sum_ns;
    ShardGauge connections;
    std::array<std::array<ShardCounter, kTlsVersionCount>, 2> tls_handshakes;
    std::array<ShardCounter, kTlsFailureCount> tls_failures;
  };

  // Constant after construction.
  const std::shared_ptr<const MetricLayout> layout_;
  const std::unique_ptr<BackendCells[]> backends_;
  const std::unique_ptr<PoolCells[]> pools_;
  const std::unique_ptr<ListenerCells[]> listeners_;
  const std::unique_ptr<ShardCounter[]> plugin_actions_;
};

// Zeroed totals sized to `layout`.
Totals EmptyTotals(const std::shared_ptr<const MetricLayout>& layout);

// Sums the readings of `shards` at `now_ns` into `into`'s indices. A shard with another layout
// (a previous snapshot) is mapped by identity (pool name, backend label); its series that
// `into` does not have are dropped.
Totals MergeShards(const std::shared_ptr<const MetricLayout>& into,
                   std::span<const std::shared_ptr<const Shard>> shards, int64_t now_ns);

}  // namespace outrigger::metrics
