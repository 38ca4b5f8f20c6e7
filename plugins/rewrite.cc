// rewrite: the path forwarded to the backend. `strip_prefix` (Traefik's StripPrefix, on a
// segment boundary), `replace_prefix` (nginx's `location /api/ { proxy_pass http://b/v1/; }`)
// and `regex` (nginx's `rewrite`, matched against the path without its query, which is kept).
// The route was chosen before: a rewrite changes what the backend sees, not the routing.
#include <re2/re2.h>

#include "plugins/builtin.h"

namespace outrigger::plugins {
namespace {

using Kind = config::RewritePluginConfig::Kind;

class Rewrite final : public Plugin {
 public:
  Rewrite(const config::RewritePluginConfig& c, ActionIds& ids)
      : config_(c), rewritten_(ids.Id("rewrite", "rewritten")) {}

  Verdict OnRequest(Context& ctx) const override {
    const std::string_view path = ctx.request().path;
    const size_t q = path.find('?');
    const std::string_view before_query = path.substr(0, q);
    const std::string_view query = q == std::string_view::npos ? "" : path.substr(q);
    std::string& out = ctx.NewString();
    if (config_.kind == Kind::kRegex) {
      out.assign(before_query);
      if (!RE2::Replace(&out, *config_.regex, config_.to)) return Verdict::kContinue;
      if (!query.empty()) {
        out += out.find('?') == std::string::npos ? '?' : '&';
        out.append(query.substr(1));
      }
    } else {
      if (!before_query.starts_with(config_.from)) return Verdict::kContinue;
      std::string_view rest = path.substr(config_.from.size());
      if (config_.kind == Kind::kStripPrefix) {
        // "/api" strips "/api" and "/api/x", never "/apix".
        if (config_.from.back() != '/' && !rest.empty() && rest.front() != '/' &&
            rest.front() != '?') {
          return Verdict::kContinue;
        }
        out.push_back('/');
        if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
      } else {
        out.assign(config_.to);
      }
      out.append(rest);
    }
    if (out == path) return Verdict::kContinue;
    ctx.SetPath(out);
    ctx.Count(rewritten_);
    return Verdict::kContinue;
  }

 private:
  const config::RewritePluginConfig config_;
  const uint32_t rewritten_;
};

}  // namespace

std::unique_ptr<Plugin> Make(const config::RewritePluginConfig& c, ActionIds& ids) {
  return std::make_unique<Rewrite>(c, ids);
}

}  // namespace outrigger::plugins
