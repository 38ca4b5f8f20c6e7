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

}  // namespace

metrics::Shard& Exchange::shard() const { return view ? *view->shard : *worker_->view()->shard; }

int64_t Exchange::CountResponse(int status) {
  int64_t now = 0;
  int64_t duration = 0;
  if (request_start_ns != 0) {
    now = MetricNanos();
    duration = now - request_start_ns;
  }
  if (view) {
    view->shard->OnDownstreamResponse(listener, status, duration);
  } else if (const ClientFacts& client = session_->facts(); !client.listener_gone) {
    worker_->view()->shard->OnDownstreamResponse(client.listener_index, status, duration);
  }
  return now;
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
