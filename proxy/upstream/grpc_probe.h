// GrpcProbe: a health probe that speaks the gRPC health checking protocol
// (grpc/doc/health-checking.md): one unary call of grpc.health.v1.Health/Check, passing only
// when the call's grpc-status is 0 and its HealthCheckResponse says SERVING, as
// grpc-health-probe decides. For `protocol: h2` pools (config ProbeType::kGrpc).
//
// Each Run() opens a fresh HTTP/2 connection (h2c, or TLS with ALPN h2 and the pool's
// verification), sends one stream and closes the connection with the answer, so a backend that
// can no longer accept connections fails it even while the pool's own connections still work.
// The connection is a net::Stream and an http2::ClientCodec of its own: never one of the
// workers' H2Pool connections, nor counted as a backend's connection in use.
//
// The two protobuf messages are coded by hand (one field each): the request's
// `string service = 1`, the response's `ServingStatus status = 1`. Decoding is strict and
// bounded: unknown fields are skipped by their wire type, anything malformed fails the probe.
//
// Loop affinity: the control thread's loop.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "proxy/config/config.h"
#include "proxy/http2/client_codec.h"
#include "proxy/net/address.h"
#include "proxy/net/event.h"
#include "proxy/net/stream.h"
#include "proxy/tls/client_context.h"
#include "proxy/upstream/probe.h"

namespace outrigger::upstream {

namespace grpc_health {

inline constexpr std::string_view kPath = "/grpc.health.v1.Health/Check";

// HealthCheckResponse.ServingStatus.
enum class ServingStatus : uint32_t {
  kUnknown = 0,
  kServing = 1,
  kNotServing = 2,
  kServiceUnknown = 3
};

// The request body: one uncompressed gRPC message frame (flag 0, 4-byte big-endian length)
// holding HealthCheckRequest{service} (no field at all when `service` is empty).
std::string EncodeRequest(std::string_view service);

// The ServingStatus of a HealthCheckResponse's protobuf bytes (the last `status` field wins,
// absent is UNKNOWN, as protobuf reads it), or nullopt when the bytes are malformed: a varint
// longer than 10 bytes or cut short, a length past the end, a group or reserved wire type,
// field number 0, or `status` with another wire type than varint.
std::optional<uint32_t> DecodeResponse(std::string_view message);

// The one message of a response body (a gRPC frame: flag 0, length, exactly that many bytes),
// or nullopt: a compressed flag (the probe asks for no compression), a frame cut short, bytes
// after it, or no frame at all.
std::optional<std::string_view> UnframeMessage(std::string_view body);

// The verdict on a finished call: the final HTTP status, its `grpc-status` (trailers, or the
// head of a Trailers-Only answer; empty when none came) and the response body.
ProbeResult Judge(int http_status, std::string_view grpc_status, std::string_view body);

}  // namespace grpc_health

class GrpcProbe final : public Probe, private http2::ClientCodecCallbacks {
 public:
  // REQUIRES: `base` outlives the probe; `config` (type grpc) is copied. With `tls` (an h2
  // pool's context: ALPN h2), each probe is a TLS connection to `tls_name`, verified as
  // requests are.
  GrpcProbe(event_base* base, const net::SocketAddress& address, const config::ProbeConfig& config,
            std::shared_ptr<const tls::ClientContext> tls = nullptr, std::string tls_name = {});
  ~GrpcProbe() override;
  GrpcProbe(const GrpcProbe&) = delete;
  GrpcProbe& operator=(const GrpcProbe&) = delete;

  void Run(Done done) override;
  bool running() const override { return running_; }

 private:
  static void OnRead(void* self);
  static void OnDrained(void* self);
  static void OnEvent(short what, void* self);
  static void OnDeadline(evutil_socket_t, short, void* self);

  // ClientCodecCallbacks: the one stream's answer.
  void OnResponseHead(int32_t stream, const http::ResponseHead& head, bool end_stream) override;
  void OnResponseData(int32_t stream, const uint8_t* data, size_t size) override;
  void OnResponseEnd(int32_t stream, std::span<const http::Header> trailers) override;
  void OnStreamClose(int32_t stream, uint32_t error_code, bool retryable) override;
  void OnGoaway(int32_t last_stream_id, uint32_t error_code) override;
  evbuffer* RequestBody(int32_t /*stream*/) override { return body_out_.get(); }

  // Starts the connection and queues the call; a detail when it cannot.
  std::optional<std::string> Start();
  // Codec frames out to the socket; false when the codec has failed.
  bool SendNow();
  // Records the verdict (the first one holds); Settle delivers it.
  void Conclude(ProbeResult result);
  // Ends a loop callback: delivers a verdict reached, after the codec has returned.
  void Settle();
  // Drops the connection and reports `result`.
  void Finish(ProbeResult result);

  const config::ProbeConfig config_;
  const std::shared_ptr<const tls::ClientContext> tls_;
  const std::string tls_name_;
  const std::string peer_;     // the backend's "ip:port": :authority, and TLS failures' log lines
  const std::string request_;  // the framed HealthCheckRequest, the same every probe
  event_base* const base_;
  const net::SocketAddress address_;
  net::EventPtr deadline_;
  // Per probe; the stream before the codec, which it feeds, so the codec goes first.
  std::unique_ptr<net::Stream> stream_;
  std::unique_ptr<http2::ClientCodec> codec_;
  net::EvBufferPtr body_out_;
  int32_t stream_id_ = -1;
  int http_status_ = 0;
  std::string grpc_status_;
  std::string body_in_;
  bool oversized_ = false;
  std::optional<ProbeResult> verdict_;
  Done done_;
  bool running_ = false;
};

}  // namespace outrigger::upstream
