// cors: the browser's cross-origin checks (Fetch standard, "CORS protocol"). A preflight
// (OPTIONS with Origin and Access-Control-Request-Method) from an allowed origin is answered
// here with 204; any other request from one gets Access-Control-Allow-Origin (and the rest)
// on its response. A request from an origin not allowed goes on untouched (a preflight too,
// as Envoy does: the browser then refuses the answer); responses vary on Origin unless every
// origin is allowed.
#include <charconv>

#include "plugins/builtin.h"
#include "proxy/http/head_writer.h"

namespace outrigger::plugins {
namespace {

std::string_view Field(const http::RequestHead& req, std::string_view name) {
  for (const http::Header& h : req.headers) {
    if (http::EqualsIgnoreCase(h.name, name)) return h.value;
  }
  return {};
}

class Cors final : public Plugin {
 public:
  Cors(const config::CorsPluginConfig& c, ActionIds& ids)
      : config_(c),
        preflight_(ids.Id("cors", "preflight")),
        max_age_(
            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(c.max_age).count())) {}

  uint8_t later_phases() const override { return 0; }  // the request phase only
  Verdict OnRequest(Context& ctx) const override {
    const http::RequestHead& req = ctx.request();
    const std::string_view origin = Field(req, "origin");
    if (!config_.any_origin) ctx.response_edits().add.push_back({"Vary", "Origin"});
    if (origin.empty() || !Allowed(origin)) return Verdict::kContinue;
    // The head's bytes go before the answer is written: what is echoed is copied.
    std::string_view allow_origin = "*";
    if (!config_.any_origin || config_.credentials) {
      std::string& copy = ctx.NewString();
      copy.assign(origin);
      allow_origin = copy;
    }
    const std::string_view method = Field(req, "access-control-request-method");
    if (req.method == http::Method::kOptions && !method.empty()) {
      LocalAnswer& answer = ctx.Answer(204);
      answer.headers.push_back({"Access-Control-Allow-Origin", allow_origin});
      answer.headers.push_back({"Access-Control-Allow-Methods", config_.methods});
      std::string_view headers = config_.headers;
      if (headers.empty()) {
        std::string& copy = ctx.NewString();
        copy.assign(Field(req, "access-control-request-headers"));
        headers = copy;
        if (!headers.empty())
          ctx.response_edits().add.push_back({"Vary", "Access-Control-Request-Headers"});
      }
      if (!headers.empty()) answer.headers.push_back({"Access-Control-Allow-Headers", headers});
      if (config_.credentials)
        answer.headers.push_back({"Access-Control-Allow-Credentials", "true"});
      answer.headers.push_back({"Access-Control-Max-Age", max_age_});
      ctx.Count(preflight_);
      return Verdict::kAnswered;
    }
    http::FieldEdits& edits = ctx.response_edits();
    edits.set.push_back({"Access-Control-Allow-Origin", allow_origin});
    if (config_.credentials) edits.set.push_back({"Access-Control-Allow-Credentials", "true"});
    if (!config_.expose.empty())
      edits.set.push_back({"Access-Control-Expose-Headers", config_.expose});
    return Verdict::kContinue;
  }

 private:
  bool Allowed(std::string_view origin) const {
    if (config_.any_origin) return true;
    for (const std::string& o : config_.origins) {
      if (http::EqualsIgnoreCase(o, origin)) return true;
    }
    return false;
  }

  const config::CorsPluginConfig config_;
  const uint32_t preflight_;
  const std::string max_age_;
};

}  // namespace

std::unique_ptr<Plugin> Make(const config::CorsPluginConfig& c, ActionIds& ids) {
  return std::make_unique<Cors>(c, ids);
}

}  // namespace outrigger::plugins
