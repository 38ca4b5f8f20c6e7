// redirect: answers with a redirect to a template (nginx's `return 301 https://...$request_uri`).
#include "plugins/builtin.h"

namespace outrigger::plugins {
namespace {

class Redirect final : public Plugin {
 public:
  Redirect(const config::RedirectPluginConfig& c, ActionIds& ids)
      : config_(c), redirected_(ids.Id("redirect", "redirected")) {}

  uint8_t later_phases() const override { return 0; }  // the request phase only
  Verdict OnRequest(Context& ctx) const override {
    LocalAnswer& answer = ctx.Answer(config_.status);
    answer.headers.push_back({"Location", ctx.Expand(config_.to)});
    ctx.Count(redirected_);
    return Verdict::kAnswered;
  }

 private:
  const config::RedirectPluginConfig config_;
  const uint32_t redirected_;
};

}  // namespace

std::unique_ptr<Plugin> Make(const config::RedirectPluginConfig& c, ActionIds& ids) {
  return std::make_unique<Redirect>(c, ids);
}

}  // namespace outrigger::plugins
