#include "proxy/config/validate.h"

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace outrigger::config {
namespace {

bool IsWildcard(const net::SocketAddress& a) {
  std::string ip = a.IpString();
  return ip == "0.0.0.0" || ip == "::";
}

// Why `a` cannot be bound next to `b` (owned by `owner`), or nullopt when both can. The
// workers bind with SO_REUSEPORT, so the kernel would not refuse these: we must. An
// IPv4-mapped address ([::ffff:127.0.0.1]) is the IPv4 endpoint it maps.
std::optional<std::string> Clash(const net::SocketAddress& a, const net::SocketAddress& b,
                                 std::string_view owner) {
  if (!a.valid() || !b.valid() || a.port() != b.port()) return std::nullopt;
  const net::SocketAddress ua = a.Unmapped();
  const net::SocketAddress ub = b.Unmapped();
  if (ua.IpString() == ub.IpString()) {
    return fmt::format("{} is also the address of {}{}", a.ToString(), owner,
                       ua == a && ub == b ? "" : fmt::format(" ({})", b.ToString()));
  }
  if (IsWildcard(ua) || IsWildcard(ub)) {
    return fmt::format("{} overlaps {} ({}): a wildcard address takes port {} on every interface",
                       a.ToString(), owner, b.ToString(), a.port());
  }
  return std::nullopt;
}

constexpr std::string_view kAdminApart =
    "; the admin listener must not share a traffic listener's address";

void CheckListenAddresses(const Config& config, const ValueMarks& marks, Diagnostics* diag) {
  const auto& listeners = config.listeners;
  for (size_t j = 0; j < listeners.size(); ++j) {
    for (size_t i = 0; i < j; ++i) {
      auto clash = Clash(listeners[j].listen, listeners[i].listen,
                         fmt::format("listener `{}`", listeners[i].name));
      if (clash) {
        diag->Add(marks.listener_listen[j],
                  fmt::format("listeners.{}.listen: {}", listeners[j].name, *clash));
        break;
      }
    }
  }
  for (size_t i = 0; i < listeners.size(); ++i) {
    if (marks.admin_listen) {
      auto clash = Clash(config.admin.listen, listeners[i].listen,
                         fmt::format("listener `{}`", listeners[i].name));
      if (clash)
        diag->Add(*marks.admin_listen, fmt::format("admin.listen: {}{}", *clash, kAdminApart));
    } else {
      // Nothing in the file says admin.listen, so point at the listener that collides.
      auto clash = Clash(listeners[i].listen, config.admin.listen,
                         "the admin listener (admin.listen defaults to it)");
      if (clash) {
        diag->Add(marks.listener_listen[i],
                  fmt::format("listeners.{}.listen: {}{}", listeners[i].name, *clash, kAdminApart));
      }
    }
  }
}

void CheckRoutes(const Config& config, const ValueMarks& marks, Diagnostics* diag) {
  std::vector<std::string_view> pool_names;
  for (const PoolConfig& p : config.pools) pool_names.push_back(p.name);
  for (size_t l = 0; l < config.listeners.size(); ++l) {
    const ListenerConfig& listener = config.listeners[l];
    for (size_t r = 0; r < listener.routes.size(); ++r) {
      const RouteConfig& route = listener.routes[r];
      std::string path = fmt::format("listeners.{}.routes[{}]", listener.name, r);
      if (!route.pool.empty() && config.FindPool(route.pool) == nullptr) {
        std::string message = fmt::format("{}.pool: no pool named `{}`", path, route.pool);
        if (auto suggestion = Suggest(route.pool, pool_names)) {
          message += fmt::format("; did you mean `{}`?", *suggestion);
        } else if (pool_names.empty()) {
          message += "; no pools are defined";
        } else {
          message += fmt::format("; defined pools: {}", JoinNames(pool_names));
        }
        diag->Add(marks.route_pool[l][r], std::move(message));
      }
      for (size_t earlier = 0; earlier < r; ++earlier) {
        const RouteConfig& e = listener.routes[earlier];
        if (e.host == route.host && e.path_prefix == route.path_prefix) {
          diag->Add(route.mark,
                    fmt::format("{}: same host and path_prefix as routes[{}], so it could never "
                                "match",
                                path, earlier));
          break;
        }
      }
    }
  }
}

void CheckBackends(const Config& config, Diagnostics* diag) {
  for (const PoolConfig& pool : config.pools) {
    const auto& backends = pool.backends;
    for (size_t j = 0; j < backends.size(); ++j) {
      std::string path = fmt::format("pools.{}.backends[{}]", pool.name, j);
      for (size_t i = 0; i < j; ++i) {
        if (backends[j].address.valid() && backends[j].address == backends[i].address) {
          diag->Add(backends[j].mark, fmt::format("{}: same address as backends[{}] ({})", path, i,
                                                  backends[j].address.ToString()));
          break;
        }
        if (backends[j].is_dns() && backends[j].dns_text == backends[i].dns_text) {
          diag->Add(backends[j].mark, fmt::format("{}: same dns name as backends[{}] ({})", path, i,
                                                  backends[j].dns_text));
          break;
        }
        if (!backends[j].name.empty() && backends[j].name == backends[i].name) {
          diag->Add(backends[j].mark, fmt::format("{}: name `{}` is already used by backends[{}]",
                                                  path, backends[j].name, i));
          break;
        }
      }
    }
  }
}

}  // namespace

void ValidateCrossReferences(const Config& config, const ValueMarks& marks, Diagnostics* diag) {
  CheckListenAddresses(config, marks, diag);
  CheckRoutes(config, marks, diag);
  CheckBackends(config, diag);
}

}  // namespace outrigger::config
