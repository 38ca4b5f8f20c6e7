// rate_limit: at most `burst` requests at once per key, refilled at `rate` (GCRA in a
// GcraTable shared by the workers); over it, 429 with Retry-After. With `headers` (default),
// every response carries the IETF draft's RateLimit-Policy and RateLimit fields
// (draft-ietf-httpapi-ratelimit-headers: q = quota, w = window seconds, r = remaining,
// t = seconds until the quota is whole again).
//
// The table outlives a reload or a DNS rebuild that leaves the plugin's settings as they were
// (Adopt): limits must not reset whenever a backend's address changes.
//
// With `store`, the decision is Redis' (store/redis_client.h), under the key
// "outrigger:rl:ZONE:KEY", one round trip per request; a store that cannot answer in time
// lets the request through (or refuses it, 503, with `on_store_error: deny`), counted as the
// action `store_error`.
#include <absl/hash/hash.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "plugins/builtin.h"
#include "plugins/gcra_table.h"
#include "plugins/store/stores.h"
#include "proxy/base/clock.h"
#include "proxy/base/copy_bytes.h"
#include "proxy/http/head_writer.h"

namespace outrigger::plugins {
namespace {

using Key = config::RateLimitPluginConfig::Key;

int64_t Ceil(int64_t ns, int64_t unit) { return (ns + unit - 1) / unit; }

class RateLimit final : public Plugin {
 public:
  RateLimit(const config::RateLimitPluginConfig& c, ActionIds& ids)
      : config_(c),
        limited_(ids.Id("rate_limit", "limited")),
        table_(!c.store_host.empty()
                   ? nullptr
                   : std::make_shared<GcraTable>(
                         c.max_keys,
                         std::chrono::duration_cast<std::chrono::nanoseconds>(c.period).count() /
                             static_cast<int64_t>(c.count),
                         c.burst, MonoNanos())),
        policy_(fmt::format("\"{}\";q={};w={}", c.key_text, c.burst, Ceil(c.period.count(), 1000))),
        state_prefix_(fmt::format("\"{}\";r=", c.key_text)),
        store_error_(c.store_host.empty() ? 0 : ids.Id("rate_limit", "store_error")),
        store_prefix_(fmt::format("outrigger:rl:{}:", c.zone)),
        interval_us_(std::chrono::duration_cast<std::chrono::microseconds>(c.period).count() /
                     static_cast<int64_t>(c.count)),
        tolerance_us_(interval_us_ * (static_cast<int64_t>(c.burst) - 1)) {}

  bool Adopt(const Plugin& previous) override {
    const auto* old = dynamic_cast<const RateLimit*>(&previous);
    if (old == nullptr || !(old->config_ == config_)) return false;
    table_ = old->table_;
    return true;
  }

  uint8_t later_phases() const override { return 0; }  // the request phase only
  bool reads_target_vars() const override { return false; }
  Verdict OnRequest(Context& ctx) const override {
    std::string_view key;
    switch (config_.key) {
      case Key::kClientIp:
        key = ctx.client_ip();
        break;
      case Key::kHeader:
        if (!HeaderValue(ctx.request(), &key))
          return Verdict::kContinue;  // nginx: no key, no limit
        break;
      case Key::kRoute:
        break;
    }
    if (!config_.store_host.empty()) return AskStore(ctx, key);
    const int64_t now = ctx.NowNanos();
    return Decide(
        ctx, table_->Take(
                 absl::Hash<absl::string_view>()(absl::string_view(key.data(), key.size())), now));
  }

  Verdict OnResume(Context& ctx) const override {
    const StoreReply& r = ctx.wait().reply();
    if (!r.ok) return StoreFailed(ctx);
    GcraTable::Decision d;
    d.allowed = r.allowed;
    d.retry_after_ns = r.retry_after_us * 1000;
    d.remaining = r.remaining;
    d.reset_ns = r.reset_us * 1000;
    return Decide(ctx, d);
  }

 private:
  Verdict AskStore(Context& ctx, std::string_view key) const {
    std::string& full = ctx.NewString();
    full.append(store_prefix_).append(key);
    RedisClient& store =
        ctx.stores().Redis(config_.store_host, config_.store_port, config_.store_timeout);
    if (!store.Gcra(full, interval_us_, tolerance_us_, &ctx.wait())) return StoreFailed(ctx);
    return Verdict::kPending;
  }

  // The store did not answer: the request goes on, or with on_store_error: deny is refused.
  Verdict StoreFailed(Context& ctx) const {
    ctx.Count(store_error_);
    if (!config_.deny_on_store_error) return Verdict::kContinue;
    LocalAnswer& answer = ctx.Answer(503);
    answer.content_type = "text/plain; charset=utf-8";
    answer.body = "503 Service Unavailable: the rate limit store did not answer\n";
    answer.headers.push_back({"Retry-After", "1"});
    return Verdict::kAnswered;
  }

  Verdict Decide(Context& ctx, const GcraTable::Decision& d) const {
    if (config_.headers) AddHeaders(ctx, d, &ctx.response_edits());
    if (d.allowed) return Verdict::kContinue;
    LocalAnswer& answer = ctx.Answer(429);
    answer.content_type = "text/plain; charset=utf-8";
    answer.body = "429 Too Many Requests: rate limit exceeded\n";
    std::string& retry = ctx.NewString();
    http::AppendDecimal(
        static_cast<uint64_t>(std::max<int64_t>(1, Ceil(d.retry_after_ns, 1'000'000'000))), &retry);
    answer.headers.push_back({"Retry-After", retry});
    ctx.Count(limited_);
    return Verdict::kAnswered;
  }

  bool HeaderValue(const http::RequestHead& req, std::string_view* out) const {
    for (const http::Header& h : req.headers) {
      if (http::EqualsIgnoreCase(h.name, config_.header) && !h.value.empty()) {
        *out = h.value;
        return true;
      }
    }
    return false;
  }

  void AddHeaders(Context& ctx, const GcraTable::Decision& d, http::FieldEdits* edits) const {
    // The policy never changes: written once, at build. Per request only r and t, composed
    // on the stack after the prefix and appended at once (each std::string append pays its
    // own checks); a prefix longer than the room (a long header name) is appended first.
    constexpr size_t kCounts = 2 * 20 + 3;
    char room[128];
    char* p = room;
    std::string& state = ctx.NewString();
    if (state_prefix_.size() <= sizeof(room) - kCounts) {
      base::CopyBytes(p, state_prefix_.data(), state_prefix_.size());
      p += state_prefix_.size();
    } else {
      state.append(state_prefix_);
    }
    p = std::to_chars(p, p + 20, d.remaining).ptr;
    std::memcpy(p, ";t=", 3);
    p = std::to_chars(p + 3, p + 23, static_cast<uint64_t>(Ceil(d.reset_ns, 1'000'000'000))).ptr;
    state.append(room, static_cast<size_t>(p - room));
    edits->add.push_back({"RateLimit-Policy", policy_});
    edits->add.push_back({"RateLimit", state});
  }

  const config::RateLimitPluginConfig config_;
  const uint32_t limited_;
  std::shared_ptr<GcraTable> table_;  // null with a store
  const std::string policy_;          // RateLimit-Policy's value
  const std::string state_prefix_;    // RateLimit's value up to its remaining count
  const uint32_t store_error_;
  const std::string store_prefix_;  // the store's key up to the request's key
  const int64_t interval_us_;
  const int64_t tolerance_us_;
};

}  // namespace

std::unique_ptr<Plugin> Make(const config::RateLimitPluginConfig& c, ActionIds& ids) {
  return std::make_unique<RateLimit>(c, ids);
}

}  // namespace outrigger::plugins
