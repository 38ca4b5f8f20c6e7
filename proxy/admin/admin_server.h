// The admin listener (control thread): liveness, readiness, /metrics (Prometheus text 0.0.4),
// /status and /scaling (JSON), design.md §5. Never bound on a traffic listener's address (config
// validation refuses it). Mutations (design.md §8): PATCH /pools/{pool}/backends/{backend}
// and POST /reload, which need the bearer token when there is one, else a loopback listener.
#pragma once

#include <functional>
#include <memory>
#include <optional>
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
    // A mutation's answer: status code and JSON body.
    struct Answer {
      int code;
      std::string body;
    };
    // PATCH /pools/{pool}/backends/{backend} (both URL-decoded) with its request body.
    std::function<Answer(std::string_view pool, std::string_view backend, std::string_view body)>
        patch;
    // POST /reload: starts a reload and calls `done` once, on the control thread, with its
    // result.
    std::function<void(std::function<void(Answer)> done)> reload;
  };

  // REQUIRES: `base` is the control thread's loop and outlives the server.
  AdminServer(event_base* base, Hooks hooks);

  absl::Status Bind(const net::SocketAddress& address);
  // The bearer token mutations need (admin.token_file's content); nullopt: none, and then
  // mutations are allowed only when the listener is bound to a loopback address.
  void SetToken(std::optional<std::string> token) { token_ = std::move(token); }

 private:
  static void OnPage(evhttp_request* req, void* self);
  static void OnLive(evhttp_request* req, void* self);
  static void OnReady(evhttp_request* req, void* self);
  static void OnOther(evhttp_request* req, void* self);
  static void OnMetrics(evhttp_request* req, void* self);
  static void OnStatus(evhttp_request* req, void* self);
  static void OnScaling(evhttp_request* req, void* self);
  static void OnReload(evhttp_request* req, void* self);
  // PATCH /pools/{pool}/backends/{backend}; false when the path is not of that shape.
  bool OnPatch(evhttp_request* req);
  // Answers 405 and returns false unless the method is GET or HEAD (reads mutate nothing),
  // 400 if such a request has a body.
  static bool ReadMethod(evhttp_request* req);
  // Answers 401 or 403 and returns false unless the request may mutate.
  bool Authorized(evhttp_request* req) const;
  // 200 with body(), or `fallback` when there is no hook; 500 if body() throws.
  static void ReplyWith(evhttp_request* req, const std::function<std::string()>& body,
                        std::string_view fallback, const char* content_type);
  static void Reply(evhttp_request* req, int code, const char* reason, std::string_view body,
                    const char* content_type = "text/plain; charset=utf-8");

  Hooks hooks_;
  net::EvHttpPtr http_;
  std::optional<std::string> token_;
  bool loopback_ = false;
};

}  // namespace outrigger::admin
