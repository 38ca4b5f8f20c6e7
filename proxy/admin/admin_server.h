// The admin listener (control thread): liveness, readiness, /metrics (Prometheus text 0.0.4),
// /status and /scaling (JSON), design.md §5. Never bound on a traffic listener's address (config
// validation refuses it).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "proxy/net/address.h"
#include "proxy/net/event.h"

namespace outrigger::admin {

class AdminServer {
 public:
  struct Hooks {
    std::function<bool()> ready;  // listeners bound, not draining
    // Bodies of the read-only endpoints, built on the control thread at each request.
    std::function<std::string()> metrics;
    std::function<std::string()> status;
    std::function<std::string()> scaling;
  };

  // REQUIRES: `base` is the control thread's loop and outlives the server.
  AdminServer(event_base* base, Hooks hooks);

  absl::Status Bind(const net::SocketAddress& address);

 private:
  static void OnLive(evhttp_request* req, void* self);
  static void OnReady(evhttp_request* req, void* self);
  static void OnOther(evhttp_request* req, void* self);
  static void OnMetrics(evhttp_request* req, void* self);
  static void OnStatus(evhttp_request* req, void* self);
  static void OnScaling(evhttp_request* req, void* self);
  // 200 with body(), or `fallback` when there is no hook; 500 if body() throws.
  static void ReplyWith(evhttp_request* req, const std::function<std::string()>& body,
                        std::string_view fallback, const char* content_type);
  static void Reply(evhttp_request* req, int code, const char* reason, std::string_view body,
                    const char* content_type = "text/plain; charset=utf-8");

  Hooks hooks_;
  net::EvHttpPtr http_;
};

}  // namespace outrigger::admin
