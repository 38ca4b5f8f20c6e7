// ClientSession: what an Exchange may ask of the client side, whatever the codec that made
// it (HAProxy's mux_ops, nghttpx's Upstream). Http1Session implements it for an HTTP/1
// connection; an HTTP/2 session will, once per stream. The Exchange serves one request from
// its pool on (pick, attempts, retries, the decisions on a response head) and calls here for
// everything that touches the client: its request body, the bytes of the response heads and
// body, local answers, and the end of the exchange.
//
// Re-entrancy: a call that ends the exchange (SendLocalReply, EndExchange, ResetClient,
// StartTunnel) may give the Exchange back to the worker's spares or begin the client's next
// request on it before it returns, so the Exchange returns at once after it, touching none of
// its fields. The others never end the exchange.
//
// Loop affinity: the worker's loop. Each operation is one virtual call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/forward/body_pump.h"
#include "proxy/http/message.h"
#include "proxy/net/event.h"

namespace outrigger::tls {
class ServerSession;
}

namespace outrigger::forward {

class Exchange;

// What a session knows of its client that its exchanges read (the access log, forwarded
// fields, metrics): kept current by the session, so an exchange reads it, never copies it.
struct ClientFacts {
  std::string peer_ip;
  tls::ServerSession* tls = nullptr;  // the client's TLS session (null: plain), the session's
  uint32_t listener_index = 0;        // the listener accepted on, in the worker's snapshot
  bool listener_gone = false;         // a reload removed it: the index means nothing
};

class ClientSession {
 public:
  const ClientFacts& facts() const { return facts_; }

  // Sends what the current loop callback queued on either side. The Exchange's own loop
  // callbacks (its upstream stream, its timer) end with it, as the session's do.
  virtual void Flush() = 0;

  // The request head's bytes can go: the Exchange wrote the upstream head from its views and
  // looks at them no more (H1: drains them from the client's input, where the body follows).
  virtual void ReleaseRequestHead(Exchange& ex) = 0;
  // Moves request body bytes into `to` through ex.request_body (its framing) and returns the
  // pump's result; on kError the Exchange answers or cuts. Called by the Exchange when its
  // upstream has room and by the session when the client sent more (Exchange::PumpRequestBody).
  virtual BodyPump::Result PullRequestBody(Exchange& ex, evbuffer* to) = 0;
  // Backpressure on the request body (Envoy's readDisable): the upstream holds kHighWater
  // unsent bytes, or the request waits for a connection slot. Resume undoes it.
  virtual void PauseRequestBody(Exchange& ex) = 0;
  virtual void ResumeRequestBody(Exchange& ex) = 0;
  // Whether the client is known to have gone (reset) while its request waited unread for a
  // connection: then the request must not reach a backend.
  virtual bool ClientGone(Exchange& ex) = 0;

  // A response head for the client: any number of interim (1xx) ones, then one final, or a
  // 101 that StartTunnel follows. The session frames it for its codec (and, on a final head
  // with ex.plugins.encoder(), reframes the body for the encoder's output, editing `head`).
  // Returns the bytes it queued, for the access log. REQUIRES: no final head sent yet.
  virtual size_t SendResponseHead(Exchange& ex, http::ResponseHead& head) = 0;
  // Response body bytes from `in` (the backend's, framed as ex.response says) to the client
  // through ex.response_body, returning its result; kError leaves the cut to the Exchange.
  virtual BodyPump::Result PushResponseBody(Exchange& ex, evbuffer* in) = 0;
  // An encoder's output (plugins/compress/), all of `data`; `last` ends the body. Returns the
  // bytes queued for the client, framing included.
  virtual uint64_t PushEncodedBody(Exchange& ex, evbuffer* data, bool last) = 0;
  // The client's output holds more than kHighWater unsent bytes: the Exchange stops reading
  // the backend until OnClientDrained.
  virtual bool ResponseBackedUp(Exchange& ex) = 0;

  // Ends the exchange with an answer the proxy makes (an error page with `detail`; headers in
  // `extra_headers`, CRLF-terminated). The Exchange has ended its attempt and counted the
  // response (Exchange::EndBeforeLocalAnswer); the session writes, logs and then closes when
  // `close` (or keep-alive is off), else waits for the next request.
  virtual void SendLocalReply(Exchange& ex, int status, std::string_view detail, bool close,
                              std::string_view extra_headers) = 0;
  // The response is complete and the exchange's accounting done: the session takes its next
  // request, or closes when its keep-alive is off.
  virtual void EndExchange(Exchange& ex) = 0;
  // The response cannot be completed (the backend failed after its head, an encoder failed,
  // the client left while waiting): the client's connection (or stream) is reset.
  virtual void ResetClient(Exchange& ex) = 0;
  // A 101 went to the client: bytes flow both ways on ex's upstream connection until either
  // side closes. The session takes over the connection's callbacks. REQUIRES: the 101 sent.
  virtual void StartTunnel(Exchange& ex) = 0;

 protected:
  ~ClientSession() = default;
  ClientFacts facts_;
};

}  // namespace outrigger::forward
