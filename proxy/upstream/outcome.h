// Outcome: how one attempt at a backend ended, recording where a failure came from (Envoy's
// Outlier::Result, Pingora's ErrorSource). One value feeds the circuit breaker, outlier
// detection, the retry decision and outrigger_backend_failures_total{reason}, so they cannot
// disagree about what a failure is.
//
// Pure values and constexpr functions: usable from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace outrigger::upstream {

enum class Outcome : uint8_t {
  kSuccess,                // a response the backend meant, whatever its status (but see 5xx)
  kLocalConnectFailed,     // the connection was refused, unreachable or its TLS failed
  kLocalTimeout,           // connect or read timed out on our side
  kUpstreamReset,          // the backend closed or reset the connection mid-exchange
  kUpstreamProtocolError,  // the backend's response was not valid HTTP/1 (answered 502)
  kUpstream5xx,            // the backend answered 502, 503 or 504: it or its own upstream is sick
  kDownstreamReset,        // the client went away first: says nothing about the backend
};

// Whether the outcome is evidence against the backend (breaker, outlier detection). A 5xx
// counts: 502/503/504 from a backend mean it cannot serve now. Other 5xx (500, 501, ...) are
// the application's answer to this request and are kSuccess for the backend's health.
constexpr bool CountsAsFailure(Outcome outcome) {
  switch (outcome) {
    case Outcome::kLocalConnectFailed:
    case Outcome::kLocalTimeout:
    case Outcome::kUpstreamReset:
    case Outcome::kUpstreamProtocolError:
    case Outcome::kUpstream5xx:
      return true;
    case Outcome::kSuccess:
    case Outcome::kDownstreamReset:
      return false;
  }
  return false;
}

// The `reason` label of outrigger_backend_failures_total (design.md §6), or nullopt when the
// outcome is not counted there. kUpstream5xx has no reason: the metric contract lists
// transport failures only, and a 5xx answer is already counted by
// outrigger_backend_requests_total{code="5xx"}.
constexpr std::optional<std::string_view> FailureReason(Outcome outcome) {
  switch (outcome) {
    case Outcome::kLocalConnectFailed:
      return "connect";
    case Outcome::kLocalTimeout:
      return "timeout";
    case Outcome::kUpstreamReset:
      return "reset";
    case Outcome::kUpstreamProtocolError:
      return "protocol";
    case Outcome::kSuccess:
    case Outcome::kUpstream5xx:
    case Outcome::kDownstreamReset:
      return std::nullopt;
  }
  return std::nullopt;
}

// The outcome of a complete response with this status.
constexpr Outcome OutcomeOfStatus(int status) {
  return status == 502 || status == 503 || status == 504 ? Outcome::kUpstream5xx
                                                         : Outcome::kSuccess;
}

}  // namespace outrigger::upstream
