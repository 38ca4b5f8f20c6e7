// Http1Session as a ClientSession (client_session.h): the HTTP/1 framing of what its
// Exchange sends, the request body's flow from the client, local answers, and the end of
// each exchange.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdio>

#include "proxy/forward/forward_internal.h"
#include "proxy/forward/http1_session.h"
#include "proxy/http/error_page.h"
#include "proxy/http/fields.h"
#include "proxy/http/head_writer.h"
#include "proxy/http/response_parser.h"

namespace outrigger::forward {

using namespace internal;  // forward_internal.h

namespace {

// An encoded body ends without a Content-Length: the client's framing becomes chunked (the
// Exchange's pump still decodes the backend's, which ex.response keeps in its body kind).
void ReframeAsChunked(http::ResponseHead& head) {
  std::erase_if(head.headers, [](const http::Header& h) {
    return http::fields::NameIs(h.name, "content-length") ||
           http::fields::NameIs(h.name, "transfer-encoding");
  });
  head.headers.push_back({"Transfer-Encoding", "chunked"});
}

// An HTTP/1 client reads a body's end from the head's framing fields, which an HTTP/2 backend
// does not send (RFC 9113 §8.1: END_STREAM ends the body): a body of no stated length comes
// re-framed as chunks (kChunked) and must say so, and a final answer that ended with its
// HEADERS has an empty body, not one that runs to the connection's close. 204, 304 and
// answers to HEAD have no body to frame; an HTTP/1 backend's answer is framed already.
void FrameForHttp1(http::ResponseHead& head, http::Method method) {
  if (http::StatusHasNoBody(method, head.status)) return;
  const bool chunked = head.body == http::BodyKind::kChunked;
  if (!chunked && head.body != http::BodyKind::kNone) return;
  for (const http::Header& h : head.headers) {
    if (http::fields::NameIs(h.name, chunked ? "transfer-encoding" : "content-length")) return;
  }
  if (chunked) {
    head.headers.push_back({"Transfer-Encoding", "chunked"});
  } else {
    head.headers.push_back({"Content-Length", "0"});
  }
}

}  // namespace

void Http1Session::ReleaseRequestHead(Exchange& ex) {
  evbuffer_drain(In(client_), ex.request.head_size);
}

BodyPump::Result Http1Session::PullRequestBody(Exchange& ex, evbuffer* to) {
  const BodyPump::Result r = ex.request_body.Pump(In(client_), to);
  // Bytes after the body are the next pipelined request: they wait until this exchange is
  // over (OnClientRead holds them, within kHighWater).
  if (r == BodyPump::Result::kDone) {
    ReadClientWhileRoom();
  } else if (r == BodyPump::Result::kMore && client_half_closed_ &&
             evbuffer_get_length(In(client_)) == 0) {
    // A body cut short by the EOF of a client that half-closed after an earlier request: a
    // read reports that EOF again, from the loop, and it ends the exchange as an abort.
    client_.EnableRead();
  }
  return r;
}

void Http1Session::PauseRequestBody(Exchange&) { client_.DisableRead(); }

void Http1Session::ResumeRequestBody(Exchange&) { client_.EnableRead(); }

bool Http1Session::ClientGone(Exchange&) {
  // Its socket is not read while a request waits for a connection, so nothing else would tell.
  tcp_info info{};
  socklen_t len = sizeof(info);
  return getsockopt(client_.fd(), IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
         info.tcpi_state == TCP_CLOSE;
}

size_t Http1Session::SendResponseHead(Exchange& ex, http::ResponseHead& head) {
  std::string& out = ex.scratch;
  out.clear();
  if (head.status == 101) {
    http::WriteClientResponseHead(head, ex.client_minor, /*client_keep_alive=*/true, &out,
                                  ex.RequestIdField());
  } else if (head.status < 200) {
    if (ex.client_minor < 1) return 0;  // an HTTP/1.0 client knows no interim responses
    http::WriteClientResponseHead(head, ex.client_minor, /*client_keep_alive=*/true, &out);
  } else {
    // The connection can stay open only if the request body was read to its end (or will
    // be, as it streams) and the body's end is marked by framing, not by a close.
    // A client that half-closed gets answers to what it sent before its EOF; the last one
    // (nothing buffered after it) closes the connection.
    if (head.body == http::BodyKind::kCloseDelimited || !ex.request_body.done() ||
        worker_.draining() || (client_half_closed_ && evbuffer_get_length(In(client_)) == 0)) {
      client_keep_alive_ = false;
    }
    FrameForHttp1(head, ex.method);
    const http::FieldEdits* edits = nullptr;
    if (ex.chain != nullptr) {
      if (ex.plugins.encoder() != nullptr) ReframeAsChunked(head);
      edits = &ex.plugins.response_edits();
    }
    http::WriteClientResponseHead(head, ex.client_minor, client_keep_alive_, &out,
                                  ex.RequestIdField(), edits);
  }
  evbuffer_add(Out(client_), out.data(), out.size());
  return out.size();
}

BodyPump::Result Http1Session::PushResponseBody(Exchange& ex, evbuffer* in) {
  return ex.response_body.Pump(in, Out(client_));  // as the backend framed it
}

uint64_t Http1Session::PushEncodedBody(Exchange&, evbuffer* data, bool last) {
  evbuffer* out = Out(client_);
  uint64_t queued = 0;
  if (const size_t n = evbuffer_get_length(data); n > 0) {
    char size_line[24];
    const int len = std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
    evbuffer_add(out, size_line, static_cast<size_t>(len));
    evbuffer_add_buffer(out, data);
    evbuffer_add(out, "\r\n", 2);
    queued += static_cast<uint64_t>(len) + n + 2;
  }
  if (last) {
    evbuffer_add(out, "0\r\n\r\n", 5);
    queued += 5;
  }
  return queued;
}

bool Http1Session::ResponseBackedUp(Exchange&) {
  return client_.unsent() > kHighWater;  // resumes in OnClientWrite
}

void Http1Session::SendLocalReply(Exchange&, int status, std::string_view detail, bool close,
                                  std::string_view extra_headers) {
  SendLocalResponse(status, detail, close, extra_headers);
}

void Http1Session::EndExchange(Exchange&) {
  if (!client_keep_alive_) {
    CloseAfterFlush();
    return;
  }
  AwaitNextRequest();
  ProcessClientInput();
}

void Http1Session::SendLocalResponse(int status, std::string_view detail, bool close,
                                     std::string_view extra_headers) {
  Exchange& e = ex();
  e.EndBeforeLocalAnswer(status);
  // Before a head is parsed client_keep_alive_ may be stale, but every such answer closes.
  if (worker_.draining() || !client_keep_alive_) close = true;
  if (!e.log_begun) e.BeginBareRequestLog();  // no head parsed: an id for the page anyway
  e.scratch.clear();
  // e.method is the request's once HandleRequest took it, else the default (GET).
  const http::SetField id = e.RequestIdField();
  http::WriteErrorResponse(status, detail, close, extra_headers, e.method == http::Method::kHead,
                           &e.scratch, id.name, id.value);
  if (e.chain != nullptr) http::EditResponseFields(e.plugins.response_edits(), &e.scratch);
  evbuffer_add(Out(client_), e.scratch.data(), e.scratch.size());
  e.LogLocalAnswer(status);
  AfterLocalAnswer(close);
}

void Http1Session::AfterLocalAnswer(bool close) {
  if (close) {
    CloseAfterFlush();
    return;
  }
  AwaitNextRequest();
  // Answered from an upstream or timer callback, a pipelined request already buffered has no
  // read event coming: the timer looks at it, from a callback of its own, so that nothing up
  // this stack sees a new exchange begin (within ProcessClientInput, its loop gets there first).
  if (state_ == State::kHead && evbuffer_get_length(In(client_)) > 0) ArmTimer(milliseconds(0));
}

}  // namespace outrigger::forward
