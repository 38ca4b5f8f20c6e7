// GrpcProbe: grpc.health.v1.Health/Check over a connection of its own (grpc_probe.h).
#include "proxy/upstream/grpc_probe.h"

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "proxy/http/grpc.h"
#include "proxy/http/message.h"
#include "proxy/tls/client_session.h"

namespace outrigger::upstream {

namespace grpc_health {
namespace {

// A HealthCheckResponse is a few bytes; an answer far larger is not one and fails the probe
// rather than fill memory.
constexpr size_t kMaxBody = 16 * 1024;
constexpr size_t kFrameHeader = 5;  // flag, 4-byte length
constexpr int kMaxVarintBytes = 10;

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// Reads a varint at `*at`, advancing it; nullopt when cut short or longer than 64 bits.
std::optional<uint64_t> ReadVarint(std::string_view in, size_t* at) {
  uint64_t value = 0;
  for (int i = 0; i < kMaxVarintBytes; ++i) {
    if (*at >= in.size()) return std::nullopt;
    const auto byte = static_cast<uint8_t>(in[(*at)++]);
    // The tenth byte holds bit 63 alone: anything more overflows 64 bits.
    if (i == kMaxVarintBytes - 1 && byte > 1) return std::nullopt;
    value |= uint64_t{byte & 0x7fu} << (7 * i);
    if ((byte & 0x80) == 0) return value;
  }
  return std::nullopt;
}

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// grpc/doc/statuscodes.md, for failure details.
std::string_view GrpcStatusName(uint32_t code) {
  static constexpr std::array<std::string_view, 17> kNames{"ok",
                                                           "cancelled",
                                                           "unknown",
                                                           "invalid_argument",
                                                           "deadline_exceeded",
                                                           "not_found",
                                                           "already_exists",
                                                           "permission_denied",
                                                           "resource_exhausted",
                                                           "failed_precondition",
                                                           "aborted",
                                                           "out_of_range",
                                                           "unimplemented",
                                                           "internal",
                                                           "unavailable",
                                                           "data_loss",
                                                           "unauthenticated"};
  return code < kNames.size() ? kNames[code] : "unknown code";
}

}  // namespace

std::string EncodeRequest(std::string_view service) {
  std::string message;
  if (!service.empty()) {
    message.push_back(0x0a);  // field 1, wire type 2
    AppendVarint(service.size(), &message);
    message.append(service);
  }
  std::string frame;
  frame.reserve(kFrameHeader + message.size());
  frame.push_back(0);  // not compressed
  const auto size = static_cast<uint32_t>(message.size());
  for (int shift = 24; shift >= 0; shift -= 8) frame.push_back(static_cast<char>(size >> shift));
  frame.append(message);
  return frame;
}

std::optional<uint32_t> DecodeResponse(std::string_view message) {
  uint32_t status = static_cast<uint32_t>(ServingStatus::kUnknown);
  size_t at = 0;
  while (at < message.size()) {
    std::optional<uint64_t> key = ReadVarint(message, &at);
    if (!key) return std::nullopt;
    const uint64_t field = *key >> 3;
    const auto wire = static_cast<uint32_t>(*key & 7);
    if (field == 0 || field > 0x1fffffff) return std::nullopt;
    if (field == 1 && wire != kVarint) return std::nullopt;
    switch (wire) {
      case kVarint: {
        std::optional<uint64_t> v = ReadVarint(message, &at);
        if (!v) return std::nullopt;
        // An enum is an int32 on the wire; protobuf keeps an unknown value as it is.
        if (field == 1) status = static_cast<uint32_t>(*v);
        break;
      }
      case kFixed64:
      case kFixed32: {
        const size_t n = wire == kFixed64 ? 8 : 4;
        if (message.size() - at < n) return std::nullopt;
        at += n;
        break;
      }
      case kLengthDelimited: {
        std::optional<uint64_t> n = ReadVarint(message, &at);
        if (!n || *n > message.size() - at) return std::nullopt;
        at += static_cast<size_t>(*n);
        break;
      }
      default:  // groups (3, 4) are long gone from proto3; 6 and 7 never existed
        return std::nullopt;
    }
  }
  return status;
}

std::optional<std::string_view> UnframeMessage(std::string_view body) {
  if (body.size() < kFrameHeader || body[0] != 0) return std::nullopt;
  uint32_t size = 0;
  for (size_t i = 1; i < kFrameHeader; ++i) size = (size << 8) | static_cast<uint8_t>(body[i]);
  if (size != body.size() - kFrameHeader) return std::nullopt;
  return body.substr(kFrameHeader);
}

ProbeResult Judge(int http_status, std::string_view grpc_status, std::string_view body) {
  if (http_status != 200) return {false, fmt::format("HTTP status {}", http_status)};
  uint32_t code = 0;
  const bool numeric = !grpc_status.empty() && grpc_status.size() <= 3 &&
                       grpc_status.find_first_not_of("0123456789") == std::string_view::npos;
  if (!numeric) return {false, "malformed response (no valid grpc-status)"};
  for (char c : grpc_status) code = code * 10 + static_cast<uint32_t>(c - '0');
  if (code != 0) return {false, fmt::format("grpc-status {} ({})", code, GrpcStatusName(code))};
  std::optional<std::string_view> message = UnframeMessage(body);
  std::optional<uint32_t> status = message ? DecodeResponse(*message) : std::nullopt;
  if (!status) return {false, "malformed response"};
  switch (static_cast<ServingStatus>(*status)) {
    case ServingStatus::kServing:
      return {true, ""};
    case ServingStatus::kNotServing:
      return {false, "NOT_SERVING"};
    case ServingStatus::kServiceUnknown:
      return {false, "SERVICE_UNKNOWN"};
    case ServingStatus::kUnknown:
      return {false, "UNKNOWN"};
  }
  return {false, fmt::format("serving status {}", *status)};
}

}  // namespace grpc_health

GrpcProbe::GrpcProbe(event_base* base, const net::SocketAddress& address,
                     const config::ProbeConfig& config,
                     std::shared_ptr<const tls::ClientContext> tls, std::string tls_name)
    : config_(config),
      tls_(std::move(tls)),
      tls_name_(std::move(tls_name)),
      peer_(address.ToString()),
      request_(grpc_health::EncodeRequest(config.service)),
      base_(base),
      address_(address),
      deadline_(evtimer_new(base, &GrpcProbe::OnDeadline, this)),
      body_out_(evbuffer_new()) {}

// The codec and the stream go without calling anyone; the deadline event is deleted with it.
GrpcProbe::~GrpcProbe() = default;

void GrpcProbe::Run(Done done) {
  done_ = std::move(done);
  running_ = true;
  verdict_.reset();
  http_status_ = 0;
  grpc_status_.clear();
  body_in_.clear();
  oversized_ = false;
  if (std::optional<std::string> failure = Start()) {
    Finish({false, std::move(*failure)});
    return;
  }
  // The stream's timeouts bound each connect and read; this bounds the whole probe.
  timeval tv =
      net::ToTimeval(std::chrono::duration_cast<std::chrono::milliseconds>(config_.timeout));
  evtimer_add(deadline_.get(), &tv);
}

std::optional<std::string> GrpcProbe::Start() {
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config_.timeout);
  absl::StatusOr<std::unique_ptr<net::Stream>> stream =
      net::Stream::Connect(base_, address_, timeout);
  if (!stream.ok()) return "cannot connect: " + std::string(stream.status().message());
  stream_ = *std::move(stream);
  if (tls_) {
    // A fresh session slot: a probe resumes nothing, so it checks the backend's certificate
    // every time.
    stream_->SetFilter(tls_->NewSession(tls_name_, std::make_shared<tls::SessionSlot>(), &peer_));
  }
  stream_->SetCallbacks(&GrpcProbe::OnRead, &GrpcProbe::OnDrained, &GrpcProbe::OnEvent, this);
  stream_->EnableRead();
  http2::ClientCodecCallbacks& callbacks = *this;
  codec_ = std::make_unique<http2::ClientCodec>(callbacks, http2::CodecLimits{});
  evbuffer_drain(body_out_.get(), evbuffer_get_length(body_out_.get()));
  evbuffer_add(body_out_.get(), request_.data(), request_.size());
  const std::string authority = tls_name_.empty() ? peer_ : tls_name_;
  http::RequestHead head;
  head.method_text = "POST";
  head.method = http::Method::kPost;
  head.target = head.path = grpc_health::kPath;
  head.authority = authority;
  head.headers = {
      {"content-type", "application/grpc"}, {"te", "trailers"}, {"user-agent", "outrigger-health"}};
  stream_id_ = codec_->SubmitRequest(head, tls_ ? "https" : "http", /*has_body=*/true);
  if (stream_id_ < 0) return std::string("cannot make the probe's request");
  codec_->FinishRequest(stream_id_);
  // Queued until the connect (and handshake) completes.
  if (!SendNow()) return std::string("cannot send the probe's request");
  return std::nullopt;
}

bool GrpcProbe::SendNow() {
  if (!codec_->Send(stream_->output(), SIZE_MAX)) return false;
  stream_->Flush();
  return true;
}

void GrpcProbe::Conclude(ProbeResult result) {
  if (!verdict_) verdict_ = std::move(result);
}

void GrpcProbe::Settle() {
  if (!verdict_ && codec_ && !SendNow()) Conclude({false, "malformed response (HTTP/2)"});
  if (verdict_) Finish(*std::move(verdict_));
}

void GrpcProbe::Finish(ProbeResult result) {
  running_ = false;
  verdict_.reset();
  evtimer_del(deadline_.get());
  codec_.reset();
  stream_.reset();
  Done done = std::move(done_);
  done(result);
}

// ---- loop callbacks ------------------------------------------------------------------------

void GrpcProbe::OnRead(void* arg) {
  auto* self = static_cast<GrpcProbe*>(arg);
  if (!self->codec_->Receive(self->stream_->input())) {
    self->Conclude({false, "malformed response (HTTP/2)"});
  }
  self->Settle();
}

void GrpcProbe::OnDrained(void* arg) { static_cast<GrpcProbe*>(arg)->Settle(); }

void GrpcProbe::OnEvent(short what, void* arg) {
  auto* self = static_cast<GrpcProbe*>(arg);
  const int err = errno;
  if (what & net::Stream::kConnected) {
    self->Settle();
    return;
  }
  if (what & net::Stream::kEof) {
    // What came before the close may finish the call.
    self->codec_->Receive(self->stream_->input());
    self->Conclude({false, "connection closed before the answer"});
  } else if (what & net::Stream::kTimeout) {
    self->Conclude({false, "timeout"});
  } else if (auto* session = dynamic_cast<tls::ClientSession*>(self->stream_->filter());
             session != nullptr && !session->Ready()) {
    self->Conclude(
        {false, fmt::format("TLS handshake failed: {}",
                            session->failure().empty() ? "connection lost" : session->failure())});
  } else if (err == ECONNREFUSED) {
    self->Conclude({false, "connection refused"});
  } else {
    self->Conclude({false, fmt::format("connection failed: {}", std::strerror(err))});
  }
  self->Finish(*std::move(self->verdict_));
}

void GrpcProbe::OnDeadline(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<GrpcProbe*>(arg);
  if (!self->running_) return;
  self->Finish(
      {false,
       fmt::format(
           "timeout: no answer within {} ms",
           std::chrono::duration_cast<std::chrono::milliseconds>(self->config_.timeout).count())});
}

// ---- ClientCodecCallbacks ------------------------------------------------------------------

void GrpcProbe::OnResponseHead(int32_t, const http::ResponseHead& head, bool end_stream) {
  if (head.status < 200) return;  // interim
  http_status_ = head.status;
  if (!end_stream) return;
  // Trailers-Only: the call's status is in the head (how servers refuse a call).
  if (std::optional<std::string_view> s = http::FindGrpcStatus(head.headers)) grpc_status_ = *s;
  Conclude(grpc_health::Judge(http_status_, grpc_status_, body_in_));
}

void GrpcProbe::OnResponseData(int32_t stream, const uint8_t* data, size_t size) {
  codec_->Consume(stream, size);
  if (oversized_) return;
  if (body_in_.size() + size > grpc_health::kMaxBody) {
    oversized_ = true;
    Conclude({false, "malformed response (too large)"});
    return;
  }
  body_in_.append(reinterpret_cast<const char*>(data), size);
}

void GrpcProbe::OnResponseEnd(int32_t, std::span<const http::Header> trailers) {
  if (std::optional<std::string_view> s = http::FindGrpcStatus(trailers)) grpc_status_ = *s;
  Conclude(grpc_health::Judge(http_status_, grpc_status_, body_in_));
}

void GrpcProbe::OnStreamClose(int32_t, uint32_t error_code, bool) {
  // After OnResponseEnd this changes nothing; before it, the call never finished.
  Conclude({false, fmt::format("stream reset (HTTP/2 error {}) before the answer", error_code)});
}

void GrpcProbe::OnGoaway(int32_t, uint32_t) {}

}  // namespace outrigger::upstream
