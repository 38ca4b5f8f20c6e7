// Builds a route's chain from the YAML of its `plugins:` list, as the snapshot does, and runs
// one request through it, as the exchange does.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/chain.h"
#include "plugins/store/stores.h"
#include "proxy/config/loader.h"

namespace outrigger::plugins {

class PluginFixture {
 public:
  // `plugins`: list items, each line indented by eight spaces.
  explicit PluginFixture(std::string_view plugins, const Chain* previous = nullptr) {
    absl::StatusOr<config::Config> c = config::LoadConfigString(
        "listeners:\n  web:\n    listen: 127.0.0.1:8080\n    routes:\n      - pool: api\n"
        "        plugins:\n" +
            std::string(plugins) + "pools:\n  api:\n    backends:\n      - address: 127.0.0.1:9\n",
        "t.yaml");
    EXPECT_TRUE(c.ok()) << c.status().message();
    config_ = std::make_unique<config::Config>(*std::move(c));
    ActionIds ids(&layout_, "api");
    chain_ = BuildChain(config_->listeners[0].routes[0].plugins, ids, previous);
  }

  // Runs the request phase for `path` from `client_ip` with `headers`; true when answered.
  bool Request(std::string_view path, std::string_view client_ip = "192.0.2.1",
               std::vector<http::Header> headers = {}, http::Method method = http::Method::kGet) {
    request_ = http::RequestHead();
    request_.method = method;
    path_ = std::string(path);
    request_.path = path_;
    request_.authority = "example.com:8080";
    request_.headers = std::move(headers);
    config::TemplateValues vars;
    const size_t q = request_.path.find('?');
    vars.Set(config::TemplateVar::kHost, "example.com");
    vars.Set(config::TemplateVar::kPath, request_.path.substr(0, q));
    vars.Set(config::TemplateVar::kQuery,
             q == std::string_view::npos ? "" : request_.path.substr(q + 1));
    vars.Set(config::TemplateVar::kRequestUri, request_.path);
    vars.Set(config::TemplateVar::kScheme, "http");
    vars.Set(config::TemplateVar::kRemoteAddr, client_ip);
    vars.Set(config::TemplateVar::kRequestId, "id-1");
    ctx_.Begin(&request_, vars, nullptr, &stores_);
    return chain_->OnRequest(ctx_) == Plugin::Verdict::kAnswered;
  }

  // Runs the response phase for `response`; `encodable`: the exchange could re-frame its body.
  void Response(const http::ResponseHead& response, bool encodable = true) {
    ctx_.AllowBodyEncoding(encodable);
    chain_->OnResponse(ctx_, response);
  }

  const Chain& chain() const { return *chain_; }
  Context& ctx() { return ctx_; }
  std::string_view path() const { return request_.path; }
  const metrics::MetricLayout& layout() const { return layout_; }

  // The value of the answer's (or response edits') field `name`, "" when absent.
  static std::string_view Find(const std::vector<http::Header>& fields, std::string_view name) {
    for (const http::Header& h : fields) {
      if (h.name == name) return h.value;
    }
    return {};
  }

 private:
  std::unique_ptr<config::Config> config_;
  metrics::MetricLayout layout_;
  std::shared_ptr<const Chain> chain_;
  std::string path_;
  http::RequestHead request_;
  Stores stores_{nullptr};  // encoders only: nothing here reaches a store
  Context ctx_;
};

}  // namespace outrigger::plugins
