// Exchange's metrics (design.md §6): each recorded once, at the event it names.
#include <optional>

#include "proxy/forward/exchange.h"
#include "proxy/forward/forward_internal.h"
#include "proxy/forward/worker.h"

namespace outrigger::forward {

using namespace internal;  // forward_internal.h

namespace {

// The `reason` of outrigger_backend_failures_total for a failed attempt's outcome; nullopt
// for an answer (5xx included) or the client going away.
std::optional<metrics::FailureReason> MetricReason(upstream::Outcome outcome) {
  switch (outcome) {
    case upstream::Outcome::kLocalConnectFailed:
      return metrics::FailureReason::kConnect;
    case upstream::Outcome::kLocalTimeout:
      return metrics::FailureReason::kTimeout;
    case upstream::Outcome::kUpstreamReset:
      return metrics::FailureReason::kReset;
    case upstream::Outcome::kUpstreamProtocolError:
      return metrics::FailureReason::kProtocol;
    case upstream::Outcome::kSuccess:
    case upstream::Outcome::kUpstream5xx:
    case upstream::Outcome::kDownstreamReset:
      return std::nullopt;
  }
  return std::nullopt;
}

metrics::GrpcOutcome OutcomeOf(http::GrpcClass c) {
  static_assert(static_cast<int>(http::GrpcClass::kOk) ==
                    static_cast<int>(metrics::GrpcOutcome::kOk) &&
                static_cast<int>(http::GrpcClass::kClient) ==
                    static_cast<int>(metrics::GrpcOutcome::kClient) &&
                static_cast<int>(http::GrpcClass::kServer) ==
                    static_cast<int>(metrics::GrpcOutcome::kServer) &&
                static_cast<int>(http::GrpcClass::kInvalid) ==
                    static_cast<int>(metrics::GrpcOutcome::kInvalid));
  return static_cast<metrics::GrpcOutcome>(c);
}

}  // namespace

metrics::Shard& Exchange::shard() const { return view ? *view->shard : *worker_->view()->shard; }

int64_t Exchange::CountResponse(int status) {
  int64_t now = 0;
  int64_t duration = 0;
  if (request_start_ns != 0) {
    now = MetricNanos();
    duration = now - request_start_ns;
  }
  const bool h2 = session_->facts().unframed_bodies;  // only HTTP/2 frames its own bodies
  if (view) {
    view->shard->OnDownstreamResponse(listener, status, duration, h2);
  } else if (const ClientFacts& client = session_->facts(); !client.listener_gone) {
    worker_->view()->shard->OnDownstreamResponse(client.listener_index, status, duration, h2);
  }
  return now;
}

void Exchange::NoteGrpcStatus(std::string_view value, bool from_backend) {
  grpc_outcome = OutcomeOf(http::ClassifyGrpcStatus(value));
  // A relayed answer is the last attempt's, whose BeginAttempt set metric_backend.
  if (from_backend && pool != nullptr) shard().OnBackendGrpcStatus(metric_backend, grpc_outcome);
}

void Exchange::NoteGrpcStatus(http::GrpcStatus status) {
  grpc_outcome = OutcomeOf(http::ClassifyGrpcStatus(status));
}

void Exchange::CountGrpcCall() {
  if (pool == nullptr) return;
  shard().OnGrpcCall(static_cast<metrics::PoolId>(pool_index), grpc_outcome);
}

void Exchange::BeginAttempt() {
  if constexpr (metrics::kRecording) {
    metric_backend = view->snapshot->MetricId(attempt_.backend());
  }
  shard().OnRequestStart(metric_backend, attempt_.start_ns());
  attempt_open = true;
  if (log_open) {
    log.backend.assign(attempt_.backend()->label());
    ++log.attempts;
  }
}

void Exchange::EndAttempt(int status, upstream::Outcome outcome) {
  if (!attempt_open) return;
  attempt_open = false;
  const int64_t now = MetricNanos();
  if (std::optional<metrics::FailureReason> reason = MetricReason(outcome)) {
    shard().OnRequestFailed(metric_backend, now, *reason);
  } else if (status != 0) {
    shard().OnRequestEnd(metric_backend, now, status, now - attempt_.sent_ns());
  } else {
    shard().OnRequestAbandoned(metric_backend, now);
  }
}

void Exchange::EndClientRequest(int status) {
  if (!pool_request_open) return;
  pool_request_open = false;
  const int64_t now = MetricNanos();
  shard().OnPoolRequestEnd(
      static_cast<metrics::PoolId>(pool_index), now, status, now - request_start_ns,
      status >= 500 || status == 499 ? metrics::PoolOutcome::kError : metrics::PoolOutcome::kOk);
}

}  // namespace outrigger::forward
