// The admin listener (control thread): liveness, readiness, and later metrics, status and
// scaling. Never bound on a traffic listener's address (config validation refuses it).
#pragma once

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "proxy/net/address.h"
#include "proxy/net/event.h"

namespace outrigger::admin {

class AdminServer {
 public:
  struct Hooks {
    std::function<bool()> ready;  // listeners bound, not draining
  };

  // REQUIRES: `base` is the control thread's loop and outlives the server.
  AdminServer(event_base* base, Hooks hooks);

  absl::Status Bind(const net::SocketAddress& address);

 private:
  static void OnLive(evhttp_request* req, void* self);
  static void OnReady(evhttp_request* req, void* self);
  static void OnOther(evhttp_request* req, void* self);
  static void Reply(evhttp_request* req, int code, const char* reason, std::string_view body);

  Hooks hooks_;
  net::EvHttpPtr http_;
};

}  // namespace outrigger::admin
