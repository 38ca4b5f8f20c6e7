// gRPC over HTTP/2 as a proxy sees it (grpc/doc/PROTOCOL-HTTP2.md): which requests are gRPC
// calls, the deadline a call carries (`grpc-timeout`), and the status and message of the
// Trailers-Only answers the proxy makes itself when it cannot reach a backend (`:status 200`,
// `content-type: application/grpc`, `grpc-status`, `grpc-message`), since a gRPC client reads
// the call's outcome from those, never from the HTTP status.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "proxy/http/message.h"

namespace outrigger::http {

// The gRPC status codes the proxy makes or classifies (grpc/doc/statuscodes.md).
enum class GrpcStatus : uint8_t {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kDeadlineExceeded = 4,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kUnauthenticated = 16,
};

// Whether a Content-Type value is gRPC's: "application/grpc", alone or followed by "+codec"
// or ";params" (ASCII case-insensitive, as media types are).
bool IsGrpcContentType(std::string_view content_type);

// A `grpc-timeout` value (1 to 8 ASCII digits, then H, M, S, m, u or n) in nanoseconds, or
// nullopt when malformed (the call then has no deadline of its own). Saturates at INT64_MAX
// (99999999H does not fit).
std::optional<int64_t> ParseGrpcTimeout(std::string_view value);

// The status a gRPC client should get for an HTTP status the proxy would answer with itself:
// 504 (the backend did not answer in time) is DEADLINE_EXCEEDED; 502, 503 and 429 (no backend,
// backend lost, over its limits) UNAVAILABLE, so that clients retry; the rest as gRPC's
// HTTP-to-status mapping (400 INTERNAL, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404
// UNIMPLEMENTED, 413 RESOURCE_EXHAUSTED, others UNKNOWN).
GrpcStatus GrpcStatusForHttp(int http_status);

// The `grpc-status` field of a head or trailer section (a Trailers-Only answer has it in its
// head), if any: a view into `fields`, no copy.
std::optional<std::string_view> FindGrpcStatus(std::span<const Header> fields);

// `grpc-message`'s percent-encoding: bytes outside 0x20..0x7E, and '%', become %XX.
std::string EncodeGrpcMessage(std::string_view message);

// A `grpc-status` value's class for metrics: kOk (0), kClient (statuses that say the call
// itself was wrong: 1, 3, 5, 6, 7, 9, 11, 12, 16), kServer (the rest), or kInvalid (not a
// decimal number 0..16). The order is metrics::GrpcOutcome's.
enum class GrpcClass : uint8_t { kOk, kClient, kServer, kInvalid };
GrpcClass ClassifyGrpcStatus(std::string_view grpc_status);
GrpcClass ClassifyGrpcStatus(GrpcStatus status);
// The class's label: "ok", "client", "server" or "invalid".
std::string_view GrpcStatusClass(std::string_view grpc_status);

}  // namespace outrigger::http
