#include "plugins/plugin.h"

#include <algorithm>

#include "plugins/store/stores.h"

namespace outrigger::plugins {

config::TemplateValues& Context::Begin(http::RequestHead* request, metrics::Shard* shard,
                                       Stores* stores) {
  EndBody();  // an exchange cut short may still hold the last response's
  request_ = request;
  shard_ = shard;
  stores_ = stores;
  wait_.Cancel();
  request_edits_.clear();
  response_edits_.clear();
  answer_.status = 0;
  answer_.content_type = {};
  answer_.body = {};
  answer_.headers.clear();
  strings_used_ = 0;
  now_ns_ = 0;
  body_encodable_ = false;
  std::fill(notes_.begin(), notes_.end(), 0);
  ran = 0;
  return vars_;
}

absl::Status Context::EncodeBody(Coding coding, int level) {
  if (!body_encodable_ || encoder_ != nullptr) {
    return absl::FailedPreconditionError("this response's body cannot be encoded");
  }
  absl::StatusOr<std::unique_ptr<BodyEncoder>> e = stores_->encoders().Take(coding, level);
  if (!e.ok()) return e.status();
  encoder_ = *std::move(e);
  coding_ = coding;
  return absl::OkStatus();
}

void Context::EndBody() {
  if (encoder_ != nullptr) stores_->encoders().Give(coding_, std::move(encoder_));
}

void Context::AddString() { strings_.push_back(std::make_unique<std::string>()); }

std::string_view Context::Expand(const config::Template& t) {
  if (t.IsConstant()) return t.constant();
  std::string& s = NewString();
  t.Expand(vars_, &s);
  return s;
}

LocalAnswer& Context::Answer(int status) {
  answer_.status = status;
  return answer_;
}

uint32_t ActionIds::Id(std::string_view plugin, std::string_view action) {
  std::vector<metrics::MetricLayout::PluginAction>& all = layout_->plugin_actions;
  for (uint32_t i = 0; i < all.size(); ++i) {
    if (all[i].pool == pool_ && all[i].plugin == plugin && all[i].action == action) return i;
  }
  all.push_back({std::string(pool_), std::string(plugin), std::string(action)});
  return static_cast<uint32_t>(all.size() - 1);
}

}  // namespace outrigger::plugins
