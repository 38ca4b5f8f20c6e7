#include "proxy/admin/admin_server.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fmt/format.h>

#include <exception>

#include "proxy/base/log.h"
#include "proxy/config/config.h"
#include "proxy/http/limits.h"

namespace outrigger::admin {

AdminServer::AdminServer(event_base* base, Hooks hooks)
    : hooks_(std::move(hooks)), http_(evhttp_new(base)) {
  evhttp_set_allowed_methods(http_.get(), EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
  // Bounded like a traffic listener (libevent's defaults are unbounded heads and bodies and a
  // 50 s timeout): the same head limit, no request body (every endpoint is a GET), and the
  // traffic listener's default header timeout for reading a request and writing its answer.
  evhttp_set_max_headers_size(http_.get(), static_cast<ev_ssize_t>(http::HeadLimits{}.max_head));
  evhttp_set_max_body_size(http_.get(), 0);
  const timeval timeout = net::ToTimeval(config::ListenerTimeouts{}.header);
  evhttp_set_timeout_tv(http_.get(), &timeout);
  evhttp_set_cb(http_.get(), "/health/live", &AdminServer::OnLive, this);
  evhttp_set_cb(http_.get(), "/health/ready", &AdminServer::OnReady, this);
  evhttp_set_cb(http_.get(), "/metrics", &AdminServer::OnMetrics, this);
  evhttp_set_cb(http_.get(), "/status", &AdminServer::OnStatus, this);
  evhttp_set_cb(http_.get(), "/scaling", &AdminServer::OnScaling, this);
  evhttp_set_gencb(http_.get(), &AdminServer::OnOther, this);
}

absl::Status AdminServer::Bind(const net::SocketAddress& address) {
  std::string ip = address.IpString();
  if (evhttp_bind_socket(http_.get(), ip.c_str(), address.port()) != 0) {
    return absl::UnavailableError(
        fmt::format("cannot bind the admin listener on {}", address.ToString()));
  }
  return absl::OkStatus();
}

void AdminServer::Reply(evhttp_request* req, int code, const char* reason, std::string_view body,
                        const char* content_type) {
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Content-Type", content_type);
  evhttp_add_header(headers, "Cache-Control", "no-store");
  net::EvBufferPtr out(evbuffer_new());
  evbuffer_add(out.get(), body.data(), body.size());
  evhttp_send_reply(req, code, reason, out.get());
}

void AdminServer::ReplyWith(evhttp_request* req, const std::function<std::string()>& body,
                            std::string_view fallback, const char* content_type) {
  // A handler that throws must cost one 500, never the process (an exception escaping a
  // libevent callback terminates it).
  std::string text;
  try {
    text = body ? body() : std::string(fallback);
  } catch (const std::exception& e) {
    spdlog::error("admin {}: {}", evhttp_request_get_uri(req), e.what());
    Reply(req, 500, "Internal Server Error", "internal error\n");
    return;
  } catch (...) {
    spdlog::error("admin {}: unknown exception", evhttp_request_get_uri(req));
    Reply(req, 500, "Internal Server Error", "internal error\n");
    return;
  }
  Reply(req, 200, "OK", text, content_type);
}

void AdminServer::OnLive(evhttp_request* req, void*) {
  // Answered by the control loop: it turning is what liveness means for the process.
  Reply(req, 200, "OK", "live\n");
}

void AdminServer::OnReady(evhttp_request* req, void* arg) {
  auto* self = static_cast<AdminServer*>(arg);
  if (self->hooks_.ready && self->hooks_.ready()) {
    Reply(req, 200, "OK", "ready\n");
  } else {
    Reply(req, 503, "Service Unavailable", "not ready\n");
  }
}

void AdminServer::OnMetrics(evhttp_request* req, void* arg) {
  auto* self = static_cast<AdminServer*>(arg);
  ReplyWith(req, self->hooks_.metrics, "", "text/plain; version=0.0.4; charset=utf-8");
}

void AdminServer::OnStatus(evhttp_request* req, void* arg) {
  auto* self = static_cast<AdminServer*>(arg);
  ReplyWith(req, self->hooks_.status, "{}\n", "application/json");
}

void AdminServer::OnScaling(evhttp_request* req, void* arg) {
  auto* self = static_cast<AdminServer*>(arg);
  ReplyWith(req, self->hooks_.scaling, "{}\n", "application/json");
}

void AdminServer::OnOther(evhttp_request* req, void*) {
  Reply(req, 404, "Not Found", "not found\n");
}

}  // namespace outrigger::admin
