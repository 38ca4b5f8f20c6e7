// Http2Session as a ClientSession (client_session.h), per stream: the request to its
// Exchange (route, plugins, pool), the request body from the stream's DATA with the client's
// windows reopened as the upstream takes it, and what the Exchange sends as HTTP/2 responses.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/forward/forward_internal.h"
#include "proxy/forward/http2_session.h"
#include "proxy/forward/worker.h"
#include "proxy/http/error_page.h"
#include "proxy/http/fields.h"
#include "proxy/http/grpc.h"
#include "proxy/http/head_writer.h"
#include "proxy/http/response_parser.h"

namespace outrigger::forward {

using namespace internal;  // forward_internal.h

void Http2Session::ServeRequest(StreamSlot& s) {
  Exchange& e = *s.ex;
  e.view = worker_.view();
  e.listener = facts_.listener_index;
  e.request_start_ns = MetricNanos();
  e.method = e.request.method;
  e.client_minor = 1;  // what the Exchange's HTTP/1 rules need of the client: 1xx, encoders
  for (const http::Header& h : e.request.headers) {
    if (http::fields::NameIs(h.name, "content-type")) {
      e.grpc = http::IsGrpcContentType(h.value);
    } else if (http::fields::NameIs(h.name, "grpc-timeout")) {
      if (std::optional<int64_t> t = http::ParseGrpcTimeout(h.value)) {
        e.grpc_deadline_ns = MonoNanos() + std::min<int64_t>(*t, INT64_MAX / 2);
      }
    }
  }
  if (!e.grpc) e.grpc_deadline_ns = 0;
  if (e.method == http::Method::kConnect) {
    // RFC 9113 §8.5 CONNECT would be a tunnel; the proxy serves none over HTTP/2.
    SendLocalReply(e, 501, "CONNECT is not served over HTTP/2", /*close=*/false, {});
    return;
  }
  std::string_view client_ip;
  if (!e.Route(&client_ip)) return;  // answered
  if (e.chain != nullptr &&
      AfterPluginVerdict(s, e.RunRequestPlugins(client_ip, &Http2Session::OnPluginResume, &s))) {
    return;
  }
  ForwardRequest(s, client_ip);
}

void Http2Session::ForwardRequest(StreamSlot& s, std::string_view client_ip) {
  s.ex->ForwardRequest(client_ip);
}

bool Http2Session::AfterPluginVerdict(StreamSlot& s, plugins::Plugin::Verdict verdict) {
  switch (verdict) {
    case plugins::Plugin::Verdict::kContinue:
      return false;
    case plugins::Plugin::Verdict::kPending:
      // Other streams go on; this one's DATA waits in its buffer (within its window).
      s.plugin_wait = true;
      return true;
    case plugins::Plugin::Verdict::kAnswered:
      break;
  }
  Exchange& e = *s.ex;
  const plugins::LocalAnswer& answer = e.plugins.answer();
  const int status = answer.status;
  e.EndBeforeLocalAnswer(status);
  const bool bodiless = e.BuildPluginAnswerHead(/*close=*/false);
  e.scratch.clear();
  http::WriteClientResponseHead(e.response, 1, /*client_keep_alive=*/true, &e.scratch,
                                e.RequestIdField(), &e.plugins.response_edits());
  const bool head_only = e.method == http::Method::kHead || bodiless;
  if (!head_only) e.scratch.append(answer.body);
  SubmitHttp1Response(s, e.scratch, head_only);
  e.LogLocalAnswer(status);
  ReturnExchange(s);
  return true;
}

void Http2Session::OnPluginResume(void* arg) {
  auto& s = *static_cast<StreamSlot*>(arg);
  Http2Session& self = *s.session;
  FlushOnReturn flush(&self);
  if (!s.plugin_wait || s.ex == nullptr) return;
  s.plugin_wait = false;
  if (!self.AfterPluginVerdict(s, s.ex->chain->Resume(s.ex->plugins))) {
    self.ForwardRequest(s, s.ex->plugins.client_ip());
  }
}

void Http2Session::SubmitHttp1Response(StreamSlot& s, const std::string& head_and_body,
                                       bool head_only) {
  const http::ParseResult r =
      http::ParseResponseHead(head_and_body, http::Method::kGet, kOwnHeadLimits, &reply_head_);
  if (r.status != http::ParseStatus::kDone) {  // our own writer's output: cannot be
    codec_.ResetStream(s.id, NGHTTP2_INTERNAL_ERROR);
    return;
  }
  const size_t body = head_only ? 0 : head_and_body.size() - reply_head_.head_size;
  if (!codec_.SubmitResponse(s.id, reply_head_, body > 0)) return;
  if (body == 0) return;
  evbuffer_add(s.response.get(), head_and_body.data() + reply_head_.head_size, body);
  codec_.FinishResponse(s.id);
}

// ---- ClientSession -------------------------------------------------------------------------

BodyPump::Result Http2Session::PullRequestBody(Exchange& ex, evbuffer* to) {
  StreamSlot& s = SlotOf(ex);
  const BodyPump::Result r = ex.request_body.Pump(s.request.get(), to);
  // The window reopens by what left the stream's buffer; a chunked body's framing still
  // there counts as data not taken, so the windows run a few bytes short until it empties.
  const uint64_t held = evbuffer_get_length(s.request.get());
  const uint64_t taken = s.unconsumed - std::min<uint64_t>(s.unconsumed, held);
  if (taken > 0) {
    s.unconsumed -= taken;
    codec_.Consume(s.id, taken);
  }
  return r;
}

void Http2Session::PauseRequestBody(Exchange& ex) { SlotOf(ex).paused = true; }

void Http2Session::ResumeRequestBody(Exchange& ex) { SlotOf(ex).paused = false; }

bool Http2Session::ClientGone(Exchange&) {
  // A stream the client reset ends its exchange at once (OnStreamClose): one that still has
  // an exchange has a client.
  return closed_;
}

size_t Http2Session::SendResponseHead(Exchange& ex, http::ResponseHead& head) {
  StreamSlot& s = SlotOf(ex);
  if (head.status == 101) return 0;  // no upgrade is asked for on HTTP/2
  if (head.status < 200) {
    codec_.SubmitResponse(s.id, head, /*has_body=*/false);
    return 0;
  }
  const bool encoded = ex.chain != nullptr && ex.plugins.encoder() != nullptr;
  if (encoded) {  // the encoder's output has a length of its own, told by END_STREAM
    std::erase_if(head.headers, [](const http::Header& h) {
      return http::fields::NameIs(h.name, "content-length");
    });
  }
  // Written as HTTP/1 (the request id and the plugins' edits apply there), then re-read and
  // submitted: the codec drops the HTTP/1-only fields.
  std::string& out = ex.scratch;
  out.clear();
  http::WriteClientResponseHead(head, 1, /*client_keep_alive=*/true, &out, ex.RequestIdField(),
                                ex.chain != nullptr ? &ex.plugins.response_edits() : nullptr);
  const http::ParseResult r =
      http::ParseResponseHead(out, http::Method::kGet, kOwnHeadLimits, &reply_head_);
  if (r.status != http::ParseStatus::kDone) {
    codec_.ResetStream(s.id, NGHTTP2_INTERNAL_ERROR);
    return 0;
  }
  const bool empty = head.body == http::BodyKind::kNone ||
                     (head.body == http::BodyKind::kContentLength && head.content_length == 0);
  s.has_body = ex.method != http::Method::kHead && (encoded || !empty);
  if (ex.grpc && !s.has_body) {  // a Trailers-Only answer: its status is in the head
    if (std::optional<std::string_view> status = http::FindGrpcStatus(reply_head_.headers)) {
      ex.NoteGrpcStatus(*status, /*from_backend=*/true);
    }
  }
  codec_.SubmitResponse(s.id, reply_head_, s.has_body);
  return out.size();
}

BodyPump::Result Http2Session::PushResponseBody(Exchange& ex, evbuffer* in) {
  StreamSlot& s = SlotOf(ex);
  const size_t before = evbuffer_get_length(s.response.get());
  ex.response_body.KeepTrailers(&s.trailers);
  const BodyPump::Result r = ex.response_body.Pump(in, s.response.get());  // unframed
  if (s.has_body && evbuffer_get_length(s.response.get()) != before) codec_.ResumeData(s.id);
  return r;
}

uint64_t Http2Session::PushEncodedBody(Exchange& ex, evbuffer* data, bool) {
  StreamSlot& s = SlotOf(ex);
  const size_t n = evbuffer_get_length(data);
  evbuffer_add_buffer(s.response.get(), data);
  if (n > 0 && s.has_body) codec_.ResumeData(s.id);
  return n;  // the end is EndExchange's FinishResponse
}

bool Http2Session::ResponseBackedUp(Exchange& ex) {
  StreamSlot& s = SlotOf(ex);
  if (evbuffer_get_length(s.response.get()) <= kHighWater && client_.unsent() <= kHighWater) {
    return false;
  }
  s.backed_up = true;  // Flush calls OnClientDrained once the stream's buffer drained
  return true;
}

void Http2Session::SendLocalReply(Exchange& ex, int status, std::string_view detail, bool,
                                  std::string_view extra_headers) {
  // `close` is the HTTP/1 connection's: here the answer ends its stream only, and DATA the
  // client still sends on it is consumed and dropped (OnStreamData).
  StreamSlot& s = SlotOf(ex);
  ex.EndBeforeLocalAnswer(status);
  if (!ex.log_begun) ex.BeginBareRequestLog();
  ex.scratch.clear();
  const http::SetField id = ex.RequestIdField();
  if (ex.grpc) {
    // A gRPC client reads the outcome from grpc-status only: a Trailers-Only answer, one
    // HEADERS frame that ends the stream.
    ex.scratch = fmt::format(
        "HTTP/1.1 200 OK\r\ncontent-type: application/grpc\r\ngrpc-status: {}\r\n"
        "grpc-message: {}\r\n",
        static_cast<int>(http::GrpcStatusForHttp(status)), http::EncodeGrpcMessage(detail));
    ex.NoteGrpcStatus(http::GrpcStatusForHttp(status));
    if (!id.name.empty()) ex.scratch += fmt::format("{}: {}\r\n", id.name, id.value);
    ex.scratch += "\r\n";
    SubmitHttp1Response(s, ex.scratch, /*head_only=*/true);
    ex.LogLocalAnswer(status);
    ReturnExchange(s);
    return;
  }
  const bool head = ex.method == http::Method::kHead;
  http::WriteErrorResponse(status, detail, /*close=*/false, extra_headers, head, &ex.scratch,
                           id.name, id.value);
  if (ex.chain != nullptr) http::EditResponseFields(ex.plugins.response_edits(), &ex.scratch);
  SubmitHttp1Response(s, ex.scratch, head);
  ex.LogLocalAnswer(status);
  ReturnExchange(s);
}

void Http2Session::EndExchange(Exchange& ex) {
  StreamSlot& s = SlotOf(ex);
  if (s.has_body && !s.trailers.empty()) {
    SubmitTrailers(s);
    if (ex.grpc) {
      if (std::optional<std::string_view> status = http::FindGrpcStatus(s.trailer_fields)) {
        ex.NoteGrpcStatus(*status, /*from_backend=*/true);
      }
    }
  } else if (s.has_body) {
    codec_.FinishResponse(s.id);
  }
  ReturnExchange(s);
}

void Http2Session::SubmitTrailers(StreamSlot& s) {
  TrailerFields(s.trailers, &s.trailer_fields);
  codec_.SubmitTrailers(s.id, s.trailer_fields);
}

void Http2Session::ResetClient(Exchange& ex) {
  StreamSlot& s = SlotOf(ex);
  if (ex.grpc && ex.response_started && s.has_body) {
    // A gRPC client maps a reset to INTERNAL or CANCELLED; the backend lost mid-call is
    // UNAVAILABLE, which it may retry, and a timeout mid-call DEADLINE_EXCEEDED, as the
    // proxy's own answer before any response would say: in trailers after the data so far.
    const bool timeout =
        ex.log.termination == log::Termination::kUpstreamTimeout || ex.grpc_deadline_passed;
    const http::GrpcStatus status =
        timeout ? http::GrpcStatus::kDeadlineExceeded : http::GrpcStatus::kUnavailable;
    s.trailers = fmt::format("grpc-status: {}\r\ngrpc-message: {}\r\n", static_cast<int>(status),
                             timeout ? "upstream timed out" : "upstream lost");
    SubmitTrailers(s);
    ex.NoteGrpcStatus(status);
  } else {
    codec_.ResetStream(s.id, NGHTTP2_INTERNAL_ERROR);
  }
  AbandonExchange(s);
}

void Http2Session::StartTunnel(Exchange& ex) {
  ResetClient(ex);  // unreachable: no request asks for an upgrade on HTTP/2
}

}  // namespace outrigger::forward
