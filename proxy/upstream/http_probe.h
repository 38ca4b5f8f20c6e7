// HttpProbe: one kind of active health probe — an HTTP/1.1 GET of a path on one backend,
// passing when the answer's status is one the probe expects (design §4 `health.live` and
// `health.ready`). Each Run() opens a fresh connection (the request says Connection: close),
// as a kubelet's probe does, so a backend that can no longer accept connections fails it
// even while old keep-alive connections still work.
//
// Built on libevent's HTTP client (evhttp): a probe reads one small response and needs none
// of the request path's streaming, so the well-tested client serves better than our own.
//
// Loop affinity: the control thread's loop.
#pragma once

#include <memory>
#include <string>

#include "proxy/config/config.h"
#include "proxy/net/address.h"
#include "proxy/net/event.h"
#include "proxy/tls/client_context.h"
#include "proxy/upstream/probe.h"

namespace outrigger::upstream {

class HttpProbe final : public Probe {
 public:
  // REQUIRES: `base` outlives the probe; `config` is copied.
  // With `tls` (a pool with `tls:`), each probe is a TLS connection to `tls_name`, verified
  // as requests are: a backend whose certificate fails verification fails its probes.
  HttpProbe(event_base* base, const net::SocketAddress& address, const config::ProbeConfig& config,
            std::shared_ptr<const tls::ClientContext> tls = nullptr, std::string tls_name = {});
  ~HttpProbe() override;
  HttpProbe(const HttpProbe&) = delete;
  HttpProbe& operator=(const HttpProbe&) = delete;

  // Probe::Run. `done` must not destroy the probe: libevent still holds the connection while
  // it runs.
  void Run(Done done) override;
  bool running() const override { return running_; }

 private:
  static void OnResponse(evhttp_request* req, void* self);
  // The whole probe took longer than config_.timeout: drop it and report a failure.
  static void OnDeadline(evutil_socket_t, short, void* self);
  bool Expected(int status) const;
  // (Re)makes connection_, dropping any request outstanding on the old one.
  void Connect();

  using ConnectionPtr = std::unique_ptr<evhttp_connection, net::Deleter<evhttp_connection_free>>;

  const config::ProbeConfig config_;
  const std::shared_ptr<const tls::ClientContext> tls_;
  const std::string tls_name_;
  const std::string host_;  // Host header
  event_base* const base_;
  const net::SocketAddress address_;
  net::EventPtr deadline_;  // declared before connection_: the connection goes first
  ConnectionPtr connection_;
  Done done_;
  bool running_ = false;
  bool fresh_ = true;  // connection_ has not carried a probe yet
};

}  // namespace outrigger::upstream
