#include "plugins/chain.h"

namespace outrigger::plugins {

Plugin::Verdict Chain::OnRequest(Context& ctx) const {
  ctx.ran = 0;
  return RunFrom(ctx);
}

Plugin::Verdict Chain::Resume(Context& ctx) const {
  ctx.running_ = ctx.ran - 1;
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
  for (size_t i = ctx.ran; i > 0; --i) {
    ctx.running_ = i - 1;
    plugins_[i - 1]->OnResponse(ctx, response);
  }
}

void Chain::OnLog(Context& ctx, const ExchangeEnd& end) const {
  for (size_t i = ctx.ran; i > 0; --i) {
    ctx.running_ = i - 1;
    plugins_[i - 1]->OnLog(ctx, end);
  }
}

}  // namespace outrigger::plugins
