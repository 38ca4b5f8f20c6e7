// rewrite: the path forwarded to the backend. `strip_prefix` (Traefik's StripPrefix, on a
// segment boundary), `replace_prefix` (nginx's `location /api/ { proxy_pass http://b/v1/; }`)
// and `regex` (nginx's `rewrite`, matched against the path without its query, which is kept).
// The route was chosen before: a rewrite changes what the backend sees, not the routing.
#include <re2/re2.h>

#include <algorithm>

#include "plugins/builtin.h"

namespace outrigger::plugins {
namespace {

using Kind = config::RewritePluginConfig::Kind;

class Rewrite final : public Plugin {
 public:
  Rewrite(const config::RewritePluginConfig& c, ActionIds& ids)
      : config_(c),
        rewritten_(ids.Id("rewrite", "rewritten")),
        unchanged_(c.kind == Kind::kReplacePrefix && c.from == c.to) {}

  uint8_t later_phases() const override { return 0; }  // the request phase only
  bool reads_target_vars() const override { return false; }
  Verdict OnRequest(Context& ctx) const override {
    // A prefix replaced by itself leaves every path as it was, whether it matches or not.
    if (unchanged_) return Verdict::kContinue;
    const std::string_view path = ctx.request().path;
    if (config_.kind == Kind::kRegex) return OnRegex(ctx, path);
    // The config refuses a '?' in `from`: the path starts with it exactly when its part
    // before the query does, so the query need not be looked for.
    if (!path.starts_with(config_.from)) return Verdict::kContinue;
    std::string_view rest = path.substr(config_.from.size());
    std::string& out = ctx.NewString();
    if (config_.kind == Kind::kStripPrefix) {
      // "/api" strips "/api" and "/api/x", never "/apix".
      if (config_.from.back() != '/' && !rest.empty() && rest.front() != '/' &&
          rest.front() != '?') {
        return Verdict::kContinue;
      }
      out.push_back('/');
      if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
      out.append(rest);
      return Rewritten(ctx, out);
    }
    // `to` differs from `from` (unchanged_), so the path always changes: no compare. The
    // query, if any, is in `rest` and stays as it is, after the $path that precedes it.
    out.append(config_.to).append(rest);
    ctx.SetPath(out, config_.to.size() + std::min(rest.find('?'), rest.size()));
    ctx.Count(rewritten_);
    return Verdict::kContinue;
  }

 private:
  Verdict OnRegex(Context& ctx, std::string_view path) const {
    const size_t q = path.find('?');
    const std::string_view query = q == std::string_view::npos ? "" : path.substr(q);
    std::string& out = ctx.NewString();
    out.assign(path.substr(0, q));
    if (!RE2::Replace(&out, *config_.regex, config_.to)) return Verdict::kContinue;
    if (!query.empty()) {
      out += out.find('?') == std::string::npos ? '?' : '&';
      out.append(query.substr(1));
    }
    return Rewritten(ctx, out);
  }

  Verdict Rewritten(Context& ctx, const std::string& out) const {
    if (out == ctx.request().path) return Verdict::kContinue;
    ctx.SetPath(out);
    ctx.Count(rewritten_);
    return Verdict::kContinue;
  }

  const config::RewritePluginConfig config_;
  const uint32_t rewritten_;
  const bool unchanged_;  // replace_prefix with `to` equal to `from`
};

}  // namespace

std::unique_ptr<Plugin> Make(const config::RewritePluginConfig& c, ActionIds& ids) {
  return std::make_unique<Rewrite>(c, ids);
}

}  // namespace outrigger::plugins
