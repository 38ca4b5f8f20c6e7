#include "plugins/chain.h"

namespace outrigger::plugins {

bool Chain::OnRequest(Context& ctx) const {
  for (const std::unique_ptr<const Plugin>& p : plugins_) {
    ++ctx.ran;
    if (p->OnRequest(ctx) == Plugin::Verdict::kAnswered) return true;
  }
  return false;
}

void Chain::OnResponse(Context& ctx, const http::ResponseHead& response) const {
  for (size_t i = ctx.ran; i > 0; --i) plugins_[i - 1]->OnResponse(ctx, response);
}

}  // namespace outrigger::plugins
