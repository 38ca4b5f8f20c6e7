#include "proxy/upstream/dns_discovery.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "proxy/base/log.h"
#include "proxy/net/event.h"
#include "proxy/upstream/dns_merge.h"

namespace outrigger::upstream {
namespace {

std::string Join(const std::vector<net::SocketAddress>& addresses) {
  std::string out;
  for (const auto& a : addresses) out += (out.empty() ? "" : ", ") + a.ToString();
  return out;
}

const char* FamilyName(int family) { return family == AF_INET ? "A" : "AAAA"; }

}  // namespace

struct DnsDiscovery::Entry {
  DnsDiscovery* owner = nullptr;
  DnsKey key;
  std::string host;
  uint16_t port = 0;
  config::Duration every{5000};
  net::EventPtr timer;

  // The round in flight: its number (0: none), the queries still awaited, their answers.
  uint64_t round = 0;
  int pending = 0;
  std::vector<FamilyAnswer> answers;
  std::map<int, std::string> round_errors;  // by family, so A's comes first whatever the order

  bool settled = false;
  std::string last_error;
  std::optional<std::chrono::system_clock::time_point> last_success;
  std::optional<std::chrono::system_clock::time_point> last_attempt;
};

DnsDiscovery::DnsDiscovery(event_base* base, OnChange on_change)
    : base_(base), on_change_(std::move(on_change)), dns_(base) {}

DnsDiscovery::~DnsDiscovery() = default;

void DnsDiscovery::SetNameservers(const std::optional<net::SocketAddress>& resolver) {
  if (resolver_ && *resolver_ == resolver) return;
  // Drops the queries in flight; their rounds start again below.
  if (absl::Status s = dns_.Configure(resolver); !s.ok()) {
    spdlog::error("dns: {}", std::string(s.message()));
  } else if (resolver) {
    spdlog::info("dns: resolving with {}", resolver->ToString());
  } else {
    // As glibc would: nameservers, search domains and ndots of resolv.conf, then /etc/hosts.
    spdlog::info("dns: resolving with the nameservers of /etc/resolv.conf");
  }
  resolver_ = resolver;
  for (auto& [key, entry] : entries_) {
    if (entry->pending == 0) continue;
    entry->round = 0;
    entry->pending = 0;
    timeval now{0, 0};
    evtimer_add(entry->timer.get(), &now);
  }
}

void DnsDiscovery::Configure(const config::Config& config) {
  std::map<DnsKey, std::unique_ptr<Entry>> next;
  for (const config::PoolConfig& pool : config.pools) {
    for (const config::BackendConfig& b : pool.backends) {
      if (!b.is_dns()) continue;
      DnsKey key{pool.name, b.dns_text};
      auto it = entries_.find(key);
      std::unique_ptr<Entry> entry;
      if (it != entries_.end()) {
        entry = std::move(it->second);
      } else {
        entry = std::make_unique<Entry>();
        entry->owner = this;
        entry->key = key;
        entry->timer.reset(evtimer_new(base_, &DnsDiscovery::OnTimer, entry.get()));
        // The first round starts from the loop, never inside the caller's stack.
        timeval now{0, 0};
        evtimer_add(entry->timer.get(), &now);
      }
      entry->host = b.dns_host;
      entry->port = b.dns_port;
      entry->every = b.resolve_every;
      next.emplace(std::move(key), std::move(entry));
    }
  }
  if (next.empty() && entries_.empty()) return;
  entries_ = std::move(next);  // vanished entries' timers go with them
  SetNameservers(config.resolver);
  for (auto it = addresses_.begin(); it != addresses_.end();) {
    it = entries_.contains(it->first) ? std::next(it) : addresses_.erase(it);
  }
}

void DnsDiscovery::OnTimer(evutil_socket_t, short, void* arg) {
  auto* entry = static_cast<Entry*>(arg);
  entry->owner->StartRound(*entry);
}

void DnsDiscovery::StartRound(Entry& entry) {
  entry.round = ++next_round_;
  entry.pending = 2;  // before the first query: an answer may come before Resolve returns
  entry.answers.clear();
  entry.round_errors.clear();
  entry.last_attempt = std::chrono::system_clock::now();
  const DnsKey key = entry.key;
  const uint64_t round = entry.round;
  for (int family : {AF_INET, AF_INET6}) {
    dns_.Resolve(entry.host, family, entry.port,
                 [this, key, round, family](absl::StatusOr<std::vector<net::SocketAddress>> r) {
                   OnAnswer(key, round, family, std::move(r));
                 });
  }
}

void DnsDiscovery::OnAnswer(const DnsKey& key, uint64_t round, int family,
                            absl::StatusOr<std::vector<net::SocketAddress>> answer) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second->round != round) return;  // removed or restarted
  Entry& entry = *it->second;
  if (answer.ok()) {
    entry.answers.push_back({family, true, std::move(*answer)});
  } else {
    entry.answers.push_back({family, false, {}});
    entry.round_errors[family] =
        fmt::format("{}: {}", FamilyName(family), std::string(answer.status().message()));
  }
  if (--entry.pending == 0) FinishRound(entry);
}

void DnsDiscovery::FinishRound(Entry& entry) {
  entry.settled = true;
  entry.round = 0;
  timeval every = net::ToTimeval(entry.every);
  evtimer_add(entry.timer.get(), &every);

  std::vector<net::SocketAddress>& current = addresses_[entry.key];
  const std::string where = fmt::format("pool {} dns {}", entry.key.pool, entry.key.dns);
  const bool answered = std::any_of(entry.answers.begin(), entry.answers.end(),
                                    [](const FamilyAnswer& a) { return a.answered; });
  std::vector<net::SocketAddress> found = MergeRound(current, entry.answers);
  std::string round_error;
  for (const auto& [family, text] : entry.round_errors) {
    round_error += (round_error.empty() ? "" : "; ") + text;
  }
  if (!answered || found.empty()) {
    // Both queries failed, or the name has no record left: the last good set stays. When
    // one answered "no such name" and the other failed, the failure is what the user needs
    // to hear about.
    std::string error = round_error.empty() ? "no A or AAAA record" : std::move(round_error);
    if (error != entry.last_error) {
      if (current.empty()) {
        spdlog::warn("{}: {}; the pool has no backend from it until it resolves", where, error);
      } else {
        spdlog::warn("{}: {}; keeping the last good set of {} address(es)", where, error,
                     current.size());
      }
    }
    entry.last_error = std::move(error);
    return;
  }
  // The name resolved; a family whose query failed kept its addresses (MergeRound).
  if (round_error != entry.last_error) {
    if (!round_error.empty()) {
      spdlog::warn("{}: {}; that family keeps its last good address(es)", where, round_error);
    } else {
      spdlog::info("{}: resolves again", where);
    }
  }
  entry.last_error = std::move(round_error);
  entry.last_success = entry.last_attempt;
  if (found == current) return;
  spdlog::info("{}: {} address(es): {}", where, found.size(), Join(found));
  current = std::move(found);
  on_change_();
}

std::vector<DnsEntryStatus> DnsDiscovery::status() const {
  std::vector<DnsEntryStatus> out;
  for (const auto& [key, entry] : entries_) {
    auto it = addresses_.find(key);
    out.push_back({key, it == addresses_.end() ? 0 : it->second.size(), entry->last_success,
                   entry->last_attempt, entry->last_error});
  }
  return out;
}

bool DnsDiscovery::settled() const {
  return std::all_of(entries_.begin(), entries_.end(),
                     [](const auto& e) { return e.second->settled; });
}

}  // namespace outrigger::upstream
