// Exchange's side of a route's plugins (plugins/plugin.h), whatever the codec: the request's
// variables and the request phase, and the head of an answer a plugin made. The response
// phase runs where a backend's head is decided (exchange_response.cc), the log phase with
// the access line (exchange_log.cc).
#include "proxy/forward/exchange.h"
#include "proxy/forward/worker.h"

namespace outrigger::forward {
namespace {

// nginx's $host: the Host without its port.
std::string_view HostWithoutPort(std::string_view authority) {
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    return close == std::string_view::npos ? authority : authority.substr(0, close + 1);
  }
  return authority.substr(0, authority.find(':'));
}

}  // namespace

plugins::Plugin::Verdict Exchange::RunRequestPlugins(std::string_view client_ip,
                                                     void (*on_resume)(void*), void* arg) {
  using config::TemplateVar;
  const http::RequestHead& req = request;
  // Each variable is set below: none keeps the last request's value.
  config::TemplateValues& vars = plugins.Begin(&request, &shard(), &worker_->stores());
  if (chain->reads_target_vars()) {
    const size_t q = req.path.find('?');
    vars.Set(TemplateVar::kHost, HostWithoutPort(req.authority));
    vars.Set(TemplateVar::kPath, req.path.substr(0, q));
    vars.Set(TemplateVar::kQuery, q == std::string_view::npos ? "" : req.path.substr(q + 1));
  } else {
    vars.Set(TemplateVar::kHost, {});
    vars.Set(TemplateVar::kPath, {});
    vars.Set(TemplateVar::kQuery, {});
  }
  vars.Set(TemplateVar::kRequestUri, req.path);
  vars.Set(TemplateVar::kScheme, session_->facts().tls != nullptr ? "https" : "http");
  vars.Set(TemplateVar::kRemoteAddr, client_ip);
  vars.Set(TemplateVar::kRequestId, log.request_id);
  plugins.SetNow(request_start_ns);  // the head was complete a few µs ago
  plugins_open = true;
  plugins.wait().SetCallback(on_resume, arg);
  return chain->OnRequest(plugins);
}

bool Exchange::BuildPluginAnswerHead(bool close) {
  const plugins::LocalAnswer& answer = plugins.answer();
  const int status = answer.status;
  http::ResponseHead& resp = response;
  resp.status = status;
  resp.reason = {};
  resp.version_minor = 1;
  resp.headers.assign(answer.headers.begin(), answer.headers.end());
  if (!answer.content_type.empty()) resp.headers.push_back({"Content-Type", answer.content_type});
  // 204 and 304 have no body (the config refuses one), and a 204 no Content-Length either.
  const bool bodiless = status == 204 || status == 304;
  if (!bodiless) resp.headers.push_back({"Content-Length", {}});  // written from content_length
  resp.body = bodiless ? http::BodyKind::kNone : http::BodyKind::kContentLength;
  resp.content_length = answer.body.size();
  resp.keep_alive = !close;
  chain->OnResponse(plugins, resp);
  return bodiless;
}

}  // namespace outrigger::forward
