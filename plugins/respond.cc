// respond: answers with a fixed status and body (nginx's `return 200 "pong"`); a route whose
// plugins include it needs no pool.
#include "plugins/builtin.h"

namespace outrigger::plugins {
namespace {

class Respond final : public Plugin {
 public:
  Respond(const config::RespondPluginConfig& c, ActionIds& ids)
      : config_(c), answered_(ids.Id("respond", "answered")) {}

  uint8_t later_phases() const override { return 0; }  // the request phase only
  Verdict OnRequest(Context& ctx) const override {
    LocalAnswer& answer = ctx.Answer(config_.status);
    answer.body = ctx.Expand(config_.body);
    if (!answer.body.empty()) answer.content_type = config_.content_type;
    ctx.Count(answered_);
    return Verdict::kAnswered;
  }

 private:
  const config::RespondPluginConfig config_;
  const uint32_t answered_;
};

}  // namespace

std::unique_ptr<Plugin> Make(const config::RespondPluginConfig& c, ActionIds& ids) {
  return std::make_unique<Respond>(c, ids);
}

}  // namespace outrigger::plugins
