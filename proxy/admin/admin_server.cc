#include "proxy/admin/admin_server.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <memory>
#include <vector>

#include "proxy/admin/status_page.h"
#include "proxy/base/log.h"
#include "proxy/config/config.h"
#include "proxy/http/limits.h"

namespace outrigger::admin {
namespace {

constexpr ev_ssize_t kMaxBody = 16 * 1024;

// Equal in a time that depends on the lengths only, not on where the first difference is.
bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

bool IsLoopback(const net::SocketAddress& address) {
  const std::string ip = address.IpString();
  return ip.starts_with("127.") || ip == "::1";
}

// Splits `path` at '/' and URL-decodes each segment (so an encoded '/' stays inside one).
std::vector<std::string> DecodedSegments(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string raw(path.substr(start, end - start));
    size_t size = 0;
    std::unique_ptr<char, decltype(&std::free)> decoded(evhttp_uridecode(raw.c_str(), 0, &size),
                                                        &std::free);
    out.emplace_back(decoded ? std::string(decoded.get(), size) : raw);
    start = end + 1;
  }
  return out;
}

}  // namespace

AdminServer::AdminServer(event_base* base, Hooks hooks)
    : hooks_(std::move(hooks)), http_(evhttp_new(base)) {
  evhttp_set_allowed_methods(http_.get(),
                             EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_PATCH | EVHTTP_REQ_POST);
  // Bounded like a traffic listener (libevent's defaults are unbounded heads and bodies and a
  // 50 s timeout): the same head limit, a small body (a PATCH's JSON), and the traffic
  // listener's default header timeout for reading a request and writing its answer.
  evhttp_set_max_headers_size(http_.get(), static_cast<ev_ssize_t>(http::HeadLimits{}.max_head));
  evhttp_set_max_body_size(http_.get(), kMaxBody);
  const timeval timeout = net::ToTimeval(config::ListenerTimeouts{}.header);
  evhttp_set_timeout_tv(http_.get(), &timeout);
  evhttp_set_cb(http_.get(), "/", &AdminServer::OnPage, this);
  evhttp_set_cb(http_.get(), "/health/live", &AdminServer::OnLive, this);
  evhttp_set_cb(http_.get(), "/health/ready", &AdminServer::OnReady, this);
  evhttp_set_cb(http_.get(), "/metrics", &AdminServer::OnMetrics, this);
  evhttp_set_cb(http_.get(), "/status", &AdminServer::OnStatus, this);
  evhttp_set_cb(http_.get(), "/scaling", &AdminServer::OnScaling, this);
  evhttp_set_cb(http_.get(), "/reload", &AdminServer::OnReload, this);
  evhttp_set_gencb(http_.get(), &AdminServer::OnOther, this);
}

absl::Status AdminServer::Bind(const net::SocketAddress& address) {
  std::string ip = address.IpString();
  if (evhttp_bind_socket(http_.get(), ip.c_str(), address.port()) != 0) {
    return absl::UnavailableError(
        fmt::format("cannot bind the admin listener on {}", address.ToString()));
  }
  loopback_ = IsLoopback(address);
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

void AdminServer::OnPage(evhttp_request* req, void*) {
  if (!ReadMethod(req)) return;
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Content-Security-Policy", kStatusPagePolicy);
  evhttp_add_header(headers, "X-Content-Type-Options", "nosniff");
  evhttp_add_header(headers, "Referrer-Policy", "no-referrer");
  Reply(req, 200, "OK", StatusPage(), "text/html; charset=utf-8");
}

void AdminServer::OnLive(evhttp_request* req, void*) {
  if (!ReadMethod(req)) return;
  // Answered by the control loop: it turning is what liveness means for the process.
  Reply(req, 200, "OK", "live\n");
}

void AdminServer::OnReady(evhttp_request* req, void* arg) {
  if (!ReadMethod(req)) return;
  auto* self = static_cast<AdminServer*>(arg);
  if (self->hooks_.ready && self->hooks_.ready()) {
    Reply(req, 200, "OK", "ready\n");
  } else {
    Reply(req, 503, "Service Unavailable", "not ready\n");
  }
}

void AdminServer::OnMetrics(evhttp_request* req, void* arg) {
  if (!ReadMethod(req)) return;
  auto* self = static_cast<AdminServer*>(arg);
  ReplyWith(req, self->hooks_.metrics, "", "text/plain; version=0.0.4; charset=utf-8");
}

void AdminServer::OnStatus(evhttp_request* req, void* arg) {
  if (!ReadMethod(req)) return;
  auto* self = static_cast<AdminServer*>(arg);
  ReplyWith(req, self->hooks_.status, "{}\n", "application/json");
}

void AdminServer::OnScaling(evhttp_request* req, void* arg) {
  if (!ReadMethod(req)) return;
  auto* self = static_cast<AdminServer*>(arg);
  ReplyWith(req, self->hooks_.scaling, "{}\n", "application/json");
}

void AdminServer::OnOther(evhttp_request* req, void* arg) {
  auto* self = static_cast<AdminServer*>(arg);
  if (self->OnPatch(req)) return;
  Reply(req, 404, "Not Found", "not found\n");
}

bool AdminServer::ReadMethod(evhttp_request* req) {
  const evhttp_cmd_type method = evhttp_request_get_command(req);
  if (method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD) {
    if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) == 0) return true;
    Reply(req, 400, "Bad Request", "a read takes no request body\n");
    return false;
  }
  evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
  Reply(req, 405, "Method Not Allowed", "method not allowed\n");
  return false;
}

bool AdminServer::Authorized(evhttp_request* req) const {
  if (!token_) {
    if (loopback_) return true;
    Reply(
        req, 403, "Forbidden",
        R"({"error":"mutations need admin.token_file when the admin listener is not on loopback"})"
        "\n",
        "application/json");
    return false;
  }
  const char* header = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
  constexpr std::string_view kScheme = "Bearer ";
  const std::string_view given = header != nullptr ? header : "";
  if (given.size() >= kScheme.size() && given.substr(0, kScheme.size()) == kScheme &&
      ConstantTimeEqual(given.substr(kScheme.size()), *token_)) {
    return true;
  }
  evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
  Reply(req, 401, "Unauthorized",
        R"({"error":"a valid Authorization: Bearer token is required"})"
        "\n",
        "application/json");
  return false;
}

bool AdminServer::OnPatch(evhttp_request* req) {
  const char* path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
  if (path == nullptr || !std::string_view(path).starts_with("/pools/")) return false;
  const std::vector<std::string> parts = DecodedSegments(path);
  if (parts.size() != 4 || parts[0] != "pools" || parts[2] != "backends") return false;
  if (evhttp_request_get_command(req) != EVHTTP_REQ_PATCH) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "PATCH");
    Reply(req, 405, "Method Not Allowed", "method not allowed\n");
    return true;
  }
  if (!Authorized(req)) return true;
  evbuffer* in = evhttp_request_get_input_buffer(req);
  std::string body(evbuffer_get_length(in), '\0');
  evbuffer_copyout(in, body.data(), body.size());
  Hooks::Answer answer{500, R"({"error":"internal error"})"};
  try {
    if (hooks_.patch) answer = hooks_.patch(parts[1], parts[3], body);
  } catch (const std::exception& e) {
    spdlog::error("admin PATCH {}: {}", path, e.what());
  }
  Reply(req, answer.code, answer.code == 200 ? "OK" : "Error", answer.body + "\n",
        "application/json");
  return true;
}

void AdminServer::OnReload(evhttp_request* req, void* arg) {
  auto* self = static_cast<AdminServer*>(arg);
  if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
    Reply(req, 405, "Method Not Allowed", "method not allowed\n");
    return;
  }
  if (!self->Authorized(req)) return;
  if (!self->hooks_.reload) {
    Reply(req, 404, "Not Found", "not found\n");
    return;
  }
  // libevent keeps `req` until it is answered, even when the client goes away meanwhile
  // (the answer then only frees it).
  self->hooks_.reload([req](Hooks::Answer answer) {
    Reply(req, answer.code, answer.code == 200 ? "OK" : "Bad Request", answer.body + "\n",
          "application/json");
  });
}

}  // namespace outrigger::admin
