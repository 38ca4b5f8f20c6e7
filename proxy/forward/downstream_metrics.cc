// DownstreamConnection's metrics (design.md §6): each recorded once, at the event it names.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "proxy/balance/eligible.h"
#include "proxy/balance/peak_ewma.h"
#include "proxy/base/clock.h"
#include "proxy/base/log.h"
#include "proxy/forward/downstream_connection.h"
#include "proxy/forward/downstream_internal.h"
#include "proxy/forward/forwarded_fields.h"
#include "proxy/http/error_page.h"
#include "proxy/http/fields.h"
#include "proxy/http/head_writer.h"
#include "proxy/http/request_parser.h"
#include "proxy/http/response_parser.h"
#include "proxy/http/upgrade.h"
#include "proxy/net/cidr.h"
#include "proxy/net/event.h"
#include "proxy/upstream/caps.h"
#include "proxy/upstream/circuit_breaker.h"
#include "proxy/upstream/retry_policy.h"

namespace outrigger::forward {

using namespace downstream;  // the helpers of this class's files (downstream_internal.h)

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

metrics::Shard& DownstreamConnection::shard() const {
  return view_ ? *view_->shard : *worker_.view()->shard;
}

int64_t DownstreamConnection::CountResponse(int status) {
  int64_t now = 0;
  int64_t duration = 0;
  if (request_start_ns_ != 0) {
    now = MetricNanos();
    duration = now - request_start_ns_;
  }
  if (view_) {
    view_->shard->OnDownstreamResponse(request_listener_, status, duration);
  } else if (!listener_gone_) {
    worker_.view()->shard->OnDownstreamResponse(listener_index_, status, duration);
  }
  return now;
}

void DownstreamConnection::BeginAttempt() {
  if constexpr (metrics::kRecording) {
    ex().metric_backend = view_->snapshot->MetricId(attempt_.backend());
  }
  shard().OnRequestStart(ex().metric_backend, attempt_.start_ns());
  ex().attempt_open = true;
  if (ex().log_open) {
    ex().log.backend.assign(attempt_.backend()->label());
    ++ex().log.attempts;
  }
}

void DownstreamConnection::EndAttempt(int status, upstream::Outcome outcome) {
  if (!ex().attempt_open) return;
  ex().attempt_open = false;
  const int64_t now = MetricNanos();
  if (std::optional<metrics::FailureReason> reason = MetricReason(outcome)) {
    shard().OnRequestFailed(ex().metric_backend, now, *reason);
  } else if (status != 0) {
    shard().OnRequestEnd(ex().metric_backend, now, status, now - attempt_.sent_ns());
  } else {
    shard().OnRequestAbandoned(ex().metric_backend, now);
  }
}

void DownstreamConnection::EndClientRequest(int status) {
  if (!ex().pool_request_open) return;
  ex().pool_request_open = false;
  const int64_t now = MetricNanos();
  shard().OnPoolRequestEnd(
      static_cast<metrics::PoolId>(ex().pool_index), now, status, now - request_start_ns_,
      status >= 500 || status == 499 ? metrics::PoolOutcome::kError : metrics::PoolOutcome::kOk);
}

}  // namespace outrigger::forward
