// Exchange's request ids and access log lines, apart from the request path's control flow
// (its session, exchange_attempt.cc, exchange_response.cc: they call these at the events they
// name).

#include "proxy/base/clock.h"
#include "proxy/base/copy_bytes.h"
#include "proxy/forward/exchange.h"
#include "proxy/forward/forward_internal.h"
#include "proxy/forward/worker.h"
#include "proxy/http/head_writer.h"
#include "proxy/log/request_id.h"
#include "proxy/tls/session.h"

namespace outrigger::forward {
namespace {

// Why a request the proxy answered itself ended, when nothing more specific was noted.
log::Termination TerminationOfStatus(int status) {
  switch (status) {
    case 404:
      return log::Termination::kNoRoute;
    case 408:
      return log::Termination::kClientTimeout;
    case 413:
      return log::Termination::kLimit;
    case 502:
      return log::Termination::kUpstreamConnect;
    case 503:
      return log::Termination::kNoBackend;
    case 504:
      return log::Termination::kUpstreamTimeout;
    default:
      return status >= 400 && status < 500 ? log::Termination::kBadRequest : log::Termination::kOk;
  }
}

// Copies `from` into a record's string. On a keep-alive connection a field usually has the
// size it had in the request before (the method, the host, the client): then its bytes are
// overwritten in place, without assign's general checks nor a call to memcpy.
[[gnu::always_inline]] inline void Store(std::string_view from, std::string* to) {
  if (to->size() == from.size()) {
    base::CopyBytes(to->data(), from.data(), from.size());
    return;
  }
  to->assign(from);
}

}  // namespace

const ListenerRuntime* Exchange::RequestListener(log::LogBuffer** buffer) const {
  const ClientFacts& client = session_->facts();
  WorkerView* v = view ? view.get() : worker_->view().get();
  size_t index = view ? listener : client.listener_index;
  if (!view && client.listener_gone) return nullptr;
  if (buffer != nullptr) *buffer = &v->access_logs[index];
  return &v->snapshot->listeners[index];
}

void Exchange::BeginRequestLog(const config::ListenerConfig& listener) {
  log::AccessRecord& r = log;
  r.Reset();
  r.request_id.clear();
  log_begun = true;
  const http::RequestHead& req = request;
  const config::RequestIdConfig& ids = listener.request_id;
  if (ids.enabled) {
    const http::Header* incoming = nullptr;
    if (ids.trust_incoming) {
      for (const http::Header& h : req.headers) {
        if (h.name.size() == ids.header.size() && http::EqualsIgnoreCase(h.name, ids.header)) {
          incoming = &h;
          break;
        }
      }
    }
    if (incoming != nullptr && log::IsValidRequestId(incoming->value)) {
      r.request_id.assign(incoming->value);
    } else {
      r.request_id.resize(log::RequestIdGenerator::kLength);
      worker_->request_ids().Next(r.request_id.data());
    }
  }
  if (listener.access_log.format == config::AccessLogConfig::Format::kOff) return;
  log_open = true;
  r.has_request = true;
  r.start_ns = request_start_ns != 0 ? request_start_ns : MonoNanos();
  r.start_unix_ms = worker_->log_clock().UnixMillis(r.start_ns);
  Store(req.method_text, &r.method);
  Store(req.path, &r.target);
  Store(req.authority, &r.host);
  r.version_minor = req.version_minor;
  Store(session_->facts().peer_ip, &r.client);
  NoteTls();
  for (const http::Header& h : req.headers) {
    switch (h.name.size()) {
      case 7:
        if (!r.has_referer && http::EqualsIgnoreCase(h.name, "referer")) {
          r.referer.assign(h.value);
          r.has_referer = true;
        }
        break;
      case 10:
        if (!r.has_user_agent && http::EqualsIgnoreCase(h.name, "user-agent")) {
          r.user_agent.assign(h.value);
          r.has_user_agent = true;
        }
        break;
      case 11:
        if (!r.has_trace_id && http::EqualsIgnoreCase(h.name, "traceparent")) {
          r.has_trace_id = log::TraceIdOf(h.value, r.trace_id);
        }
        break;
      default:
        break;
    }
  }
}

void Exchange::NoteClient(std::string_view client_ip) {
  // HOOK (trusted_proxies, issue 21): `client` is whatever address the listener decided is
  // the client; only a different one than the peer needs copying.
  if (log_open && client_ip.data() != session_->facts().peer_ip.data()) {
    log.client.assign(client_ip);
  }
}

void Exchange::BeginBareRequestLog() {
  const ListenerRuntime* listener = RequestListener(nullptr);
  log::AccessRecord& r = log;
  r.Reset();
  r.request_id.clear();
  log_begun = true;
  if (listener == nullptr) return;
  if (listener->config->request_id.enabled) {
    r.request_id.resize(log::RequestIdGenerator::kLength);
    worker_->request_ids().Next(r.request_id.data());
  }
  if (listener->config->access_log.format == config::AccessLogConfig::Format::kOff) return;
  log_open = true;
  r.start_ns = MonoNanos();
  r.start_unix_ms = worker_->log_clock().UnixMillis(r.start_ns);
  r.client.assign(session_->facts().peer_ip);
  NoteTls();
}

void Exchange::NoteTls() {
  const tls::ServerSession* tls = session_->facts().tls;
  if (tls == nullptr || !tls->handshake_done()) return;
  log::AccessRecord& r = log;
  r.tls_version = tls->version();
  const std::string_view sni = tls->server_name();
  r.has_sni = !sni.empty();
  r.sni.assign(sni);
}

http::SetField Exchange::RequestIdField() const {
  if (log.request_id.empty()) return {};
  const ListenerRuntime* listener = RequestListener(nullptr);
  if (listener == nullptr) return {};
  return {listener->config->request_id.header, log.request_id};
}

void Exchange::NoteResponseHead(size_t head_bytes) {
  if (!log_open) return;
  if (attempt_.sent_ns() != 0) log.header_ns = MonoNanos() - attempt_.sent_ns();
  log.response_head_bytes = head_bytes;
}

void Exchange::NoteFailure(upstream::Outcome outcome) {
  log::Termination& t = log.termination;
  switch (outcome) {
    case upstream::Outcome::kLocalConnectFailed:
      t = log::Termination::kUpstreamConnect;
      break;
    case upstream::Outcome::kLocalTimeout:
      t = log::Termination::kUpstreamTimeout;
      break;
    case upstream::Outcome::kUpstreamProtocolError:
      t = log::Termination::kUpstreamProtocol;
      break;
    case upstream::Outcome::kUpstreamReset:
    case upstream::Outcome::kUpstream5xx:
      t = log::Termination::kUpstreamReset;
      break;
    case upstream::Outcome::kSuccess:
    case upstream::Outcome::kDownstreamReset:
      break;
  }
}

void Exchange::LogLocalAnswer(int status) {
  if (!log_open && !plugins_open) return;
  if (log.termination == log::Termination::kOk) {
    log.termination = TerminationOfStatus(status);
  }
  const size_t head_end = scratch.find("\r\n\r\n");
  log.response_head_bytes = head_end == std::string::npos ? 0 : head_end + 4;
  LogExchange(status, scratch.size());
}

void Exchange::LogUnfinished() {
  if (!log_open && !plugins_open) return;
  if (log.termination == log::Termination::kOk) log.termination = log::Termination::kClientClosed;
  if (response_started) {
    LogExchange(response.status, log.response_head_bytes + ResponseBodyBytesSent());
  } else {
    LogExchange(499, 0);
  }
}

void Exchange::LogExchange(int status, uint64_t bytes_out, int64_t now_ns) {
  WriteAccessLine(status, bytes_out, now_ns);
  if (plugins_open) {  // the plugins' log phase: after the line, as its contract says
    plugins_open = false;
    if (!chain->has_log_phase()) return;
    plugins::ExchangeEnd end;
    end.status = status;
    end.bytes_out = bytes_out;
    end.duration_ns = request_start_ns != 0 ? internal::MetricNanos() - request_start_ns : 0;
    chain->OnLog(plugins, end);
  }
}

void Exchange::WriteAccessLine(int status, uint64_t bytes_out, int64_t now_ns) {
  if (!log_open) return;
  log_open = false;
  log::LogBuffer* buffer = nullptr;
  const ListenerRuntime* listener = RequestListener(&buffer);
  if (listener == nullptr || !buffer->enabled()) return;
  log::AccessRecord& r = log;
  const config::AccessLogConfig& cfg = listener->config->access_log;
  const int64_t now = now_ns != 0 ? now_ns : MonoNanos();
  const int64_t duration = now - r.start_ns;
  if (cfg.sample < 1.0 && status < 400 && r.termination == log::Termination::kOk &&
      duration < std::chrono::nanoseconds(cfg.slow).count()) {
    // 53 random bits as a share in [0, 1).
    const double dice = static_cast<double>(worker_->request_ids().Next64() >> 11) * 0x1p-53;
    if (dice >= cfg.sample) return;
  }
  r.pool = pool != nullptr ? std::string_view(pool->config->name) : std::string_view();
  log::LineEnd end;
  end.listener = listener->config->name;
  end.status = status;
  end.bytes_in = r.has_request ? request.head_size + request_body.moved() : 0;
  end.bytes_out = bytes_out;
  end.duration_ns = duration;
  const char* line_end = cfg.format == config::AccessLogConfig::Format::kCombined
                             ? log::WriteCombinedLine(r, end, &worker_->log_clock(),
                                                      buffer->Room(log::CombinedLineBound(r)))
                             : log::WriteJsonLine(r, end, &worker_->log_clock(),
                                                  buffer->Room(log::JsonLineBound(r, end)));
  buffer->Committed(line_end, now);
}

}  // namespace outrigger::forward
