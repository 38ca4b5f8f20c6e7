// A real HTTP server on 127.0.0.1 (evhttp, on the test's own loop) for the probe tests:
// answers every path with the status set in `status`, records the last request's Host and
// User-Agent, and never answers while `hang` is set.
#pragma once

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "proxy/net/address.h"
#include "proxy/net/event.h"

namespace outrigger::upstream {

class ProbeServer {
 public:
  explicit ProbeServer(event_base* base) : http_(evhttp_new(base)) {
    evhttp_set_gencb(http_.get(), &ProbeServer::OnRequest, this);
    evhttp_bound_socket* bound = evhttp_bind_socket_with_handle(http_.get(), "127.0.0.1", 0);
    EXPECT_NE(bound, nullptr);
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&ss), &len);
    address_ = net::SocketAddress(reinterpret_cast<sockaddr*>(&ss), len);
  }

  const net::SocketAddress& address() const { return address_; }

  int status = 200;
  bool hang = false;
  int requests = 0;
  std::string last_host;
  std::string last_user_agent;
  std::string last_path;

 private:
  static void OnRequest(evhttp_request* req, void* arg) {
    auto* self = static_cast<ProbeServer*>(arg);
    ++self->requests;
    evkeyvalq* in = evhttp_request_get_input_headers(req);
    const char* host = evhttp_find_header(in, "Host");
    const char* ua = evhttp_find_header(in, "User-Agent");
    self->last_host = host ? host : "";
    self->last_user_agent = ua ? ua : "";
    self->last_path = evhttp_request_get_uri(req);
    if (self->hang) return;  // evhttp frees it with the server
    evhttp_send_reply(req, self->status, "X", nullptr);
  }

  net::EvHttpPtr http_;
  net::SocketAddress address_;
};

// Runs `base` until `done()` holds (checked every 5 ms) or `timeout_ms` passes; returns done().
inline bool RunUntil(event_base* base, const std::function<bool()>& done, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms && !done(); waited += 5) {
    timeval tick{0, 5000};
    event_base_loopexit(base, &tick);
    event_base_dispatch(base);
  }
  return done();
}

}  // namespace outrigger::upstream
