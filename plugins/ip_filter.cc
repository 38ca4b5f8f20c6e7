// ip_filter: allow/deny by the client's address, after trusted_proxies (nginx's allow/deny,
// except that `deny` wins over `allow` whatever the order: a denied range inside an allowed
// one is the common case).
#include "plugins/builtin.h"

namespace outrigger::plugins {
namespace {

class IpFilter final : public Plugin {
 public:
  IpFilter(const config::IpFilterPluginConfig& c, ActionIds& ids)
      : config_(c), denied_(ids.Id("ip_filter", "denied")) {}

  uint8_t later_phases() const override { return 0; }  // the request phase only
  Verdict OnRequest(Context& ctx) const override {
    std::optional<net::SocketAddress> ip = net::ParseIp(ctx.client_ip());
    if (ip && Allowed(*ip)) return Verdict::kContinue;
    LocalAnswer& answer = ctx.Answer(403);
    answer.content_type = "text/plain; charset=utf-8";
    answer.body = "403 Forbidden: client address not allowed\n";
    ctx.Count(denied_);
    return Verdict::kAnswered;
  }

 private:
  bool Allowed(const net::SocketAddress& ip) const {
    for (const net::Cidr& c : config_.deny) {
      if (c.Contains(ip)) return false;
    }
    if (config_.allow.empty()) return true;
    for (const net::Cidr& c : config_.allow) {
      if (c.Contains(ip)) return true;
    }
    return false;
  }

  const config::IpFilterPluginConfig config_;
  const uint32_t denied_;
};

}  // namespace

std::unique_ptr<Plugin> Make(const config::IpFilterPluginConfig& c, ActionIds& ids) {
  return std::make_unique<IpFilter>(c, ids);
}

}  // namespace outrigger::plugins
