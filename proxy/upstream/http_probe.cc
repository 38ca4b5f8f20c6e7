#include "proxy/upstream/http_probe.h"

#include <event2/bufferevent_ssl.h>
#include <fmt/format.h>

#include <chrono>

#include "proxy/net/event.h"

namespace outrigger::upstream {
namespace {

// A health endpoint answers in a few bytes; anything larger is not one and fails the probe
// rather than fill memory.
constexpr size_t kMaxHeadersSize = 16 * 1024;
constexpr size_t kMaxBodySize = 64 * 1024;

}  // namespace

HttpProbe::HttpProbe(event_base* base, const net::SocketAddress& address,
                     const config::ProbeConfig& config,
                     std::shared_ptr<const tls::ClientContext> tls, std::string tls_name)
    : config_(config),
      tls_(std::move(tls)),
      tls_name_(std::move(tls_name)),
      host_(config.host.empty() ? address.ToString() : config.host),
      base_(base),
      address_(address),
      deadline_(evtimer_new(base, &HttpProbe::OnDeadline, this)) {
  Connect();
}

void HttpProbe::Connect() {
  if (tls_) {
    // A bufferevent carries one TLS session: each probe gets a fresh one (Run reconnects).
    tls::SslPtr ssl(tls_->NewSsl(tls_name_));
    bufferevent* bev =
        !ssl ? nullptr
             : bufferevent_openssl_socket_new(base_, -1, ssl.get(), BUFFEREVENT_SSL_CONNECTING,
                                              BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == nullptr) {
      connection_.reset();
      return;
    }
    ssl.release();  // the bufferevent's now (BEV_OPT_CLOSE_ON_FREE frees it)
    // The answer is framed by its length; a backend closing without close_notify is normal.
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    connection_.reset(evhttp_connection_base_bufferevent_new(
        base_, nullptr, bev, address_.IpString().c_str(), address_.port()));
  } else {
    connection_.reset(
        evhttp_connection_base_new(base_, nullptr, address_.IpString().c_str(), address_.port()));
  }
  if (!connection_) return;
  timeval tv =
      net::ToTimeval(std::chrono::duration_cast<std::chrono::milliseconds>(config_.timeout));
  evhttp_connection_set_timeout_tv(connection_.get(), &tv);
  evhttp_connection_set_retries(connection_.get(), 0);
  evhttp_connection_set_max_headers_size(connection_.get(), kMaxHeadersSize);
  evhttp_connection_set_max_body_size(connection_.get(), kMaxBodySize);
}

// Freeing the connection drops an outstanding request without calling its callback.
HttpProbe::~HttpProbe() = default;

void HttpProbe::Run(Done done) {
  done_ = std::move(done);
  running_ = true;
  if (tls_ && !fresh_) Connect();
  fresh_ = false;
  if (!connection_) {
    running_ = false;
    done_(ProbeResult{false, "cannot make the probe's TLS connection"});
    return;
  }
  // Owned by the connection once made; freed by libevent after OnResponse returns.
  evhttp_request* req = evhttp_request_new(&HttpProbe::OnResponse, this);
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Host", host_.c_str());
  evhttp_add_header(headers, "User-Agent", "outrigger-health");
  evhttp_add_header(headers, "Connection", "close");
  if (evhttp_make_request(connection_.get(), req, EVHTTP_REQ_GET, config_.path.c_str()) != 0) {
    // evhttp_make_request has freed the request.
    running_ = false;
    done_(ProbeResult{false, "cannot send the probe request"});
    return;
  }
  // The connection's timeout bounds each read and write, not the probe: a backend trickling
  // its answer a byte at a time would keep one probe outstanding, and its verdict, for hours.
  timeval tv =
      net::ToTimeval(std::chrono::duration_cast<std::chrono::milliseconds>(config_.timeout));
  evtimer_add(deadline_.get(), &tv);
}

void HttpProbe::OnDeadline(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<HttpProbe*>(arg);
  if (!self->running_) return;
  self->running_ = false;
  // Freeing the connection drops the request without its callback; the next Run() gets a new
  // connection, as it would anyway (each probe says Connection: close).
  self->Connect();
  Done done = std::move(self->done_);
  done(ProbeResult{
      false,
      fmt::format(
          "no whole answer within the timeout ({} ms)",
          std::chrono::duration_cast<std::chrono::milliseconds>(self->config_.timeout).count())});
}

void HttpProbe::OnResponse(evhttp_request* req, void* arg) {
  auto* self = static_cast<HttpProbe*>(arg);
  self->running_ = false;
  evtimer_del(self->deadline_.get());
  int status = req != nullptr ? evhttp_request_get_response_code(req) : 0;
  ProbeResult result;
  if (status == 0) {
    result.detail = "no answer (connection refused, reset or timed out)";
  } else if (self->Expected(status)) {
    result.ok = true;
  } else {
    result.detail = fmt::format("status {}", status);
  }
  Done done = std::move(self->done_);
  done(result);
}

bool HttpProbe::Expected(int status) const {
  for (const config::StatusRange& r : config_.expect_status) {
    if (status >= r.low && status <= r.high) return true;
  }
  return false;
}

}  // namespace outrigger::upstream
