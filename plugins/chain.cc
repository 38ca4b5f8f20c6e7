#include "plugins/chain.h"

namespace outrigger::plugins {

Chain::Chain(std::vector<std::unique_ptr<const Plugin>> plugins) : plugins_(std::move(plugins)) {
  phases_.reserve(plugins_.size());
  for (const auto& p : plugins_) {
    phases_.push_back(p->later_phases());
    any_phases_ |= phases_.back();
    reads_target_vars_ |= p->reads_target_vars();
  }
}

Plugin::Verdict Chain::OnRequest(Context& ctx) const {
  ctx.ran = 0;
  return RunFrom(ctx);
}

Plugin::Verdict Chain::Resume(Context& ctx) const {
  ctx.running_ = ctx.ran - 1;
  ctx.now_ns_ = 0;  // the wait took its time
  const Plugin::Verdict v = plugins_[ctx.ran - 1]->OnResume(ctx);
  return v == Plugin::Verdict::kContinue ? RunFrom(ctx) : v;
}

Plugin::Verdict Chain::RunFrom(Context& ctx) const {
  while (ctx.ran < plugins_.size()) {
    ctx.running_ = ctx.ran;
    const Plugin::Verdict v = plugins_[ctx.ran++]->OnRequest(ctx);
    if (v != Plugin::Verdict::kContinue) return v;
  }
  return Plugin::Verdict::kContinue;
}

void Chain::OnResponse(Context& ctx, const http::ResponseHead& response) const {
  if ((any_phases_ & Plugin::kResponsePhase) == 0) return;
  for (size_t i = ctx.ran; i > 0; --i) {
    if ((phases_[i - 1] & Plugin::kResponsePhase) == 0) continue;
    ctx.running_ = i - 1;
    plugins_[i - 1]->OnResponse(ctx, response);
  }
}

void Chain::OnLog(Context& ctx, const ExchangeEnd& end) const {
  if ((any_phases_ & Plugin::kLogPhase) == 0) return;
  for (size_t i = ctx.ran; i > 0; --i) {
    if ((phases_[i - 1] & Plugin::kLogPhase) == 0) continue;
    ctx.running_ = i - 1;
    plugins_[i - 1]->OnLog(ctx, end);
  }
}

}  // namespace outrigger::plugins
