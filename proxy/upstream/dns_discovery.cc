#include "proxy/upstream/dns_discovery.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "proxy/base/log.h"
#include "proxy/net/event.h"

namespace outrigger::upstream {
namespace {

// Per query: how long one try waits for an answer, and how many tries. A round therefore
// ends within 2 × 2 s even when the server is gone, which bounds how stale a pool can get
// behind a dead resolver before the log says so.
constexpr const char* kTimeoutSeconds = "2";
constexpr const char* kAttempts = "2";
// evdns marks a silent nameserver down and probes it again after this, growing from here.
constexpr const char* kProbeSeconds = "1";

bool AddressLess(const net::SocketAddress& a, const net::SocketAddress& b) {
  if (a.family() != b.family()) return a.family() < b.family();
  return std::memcmp(a.sockaddr_ptr(), b.sockaddr_ptr(), a.length()) < 0;
}

std::string Join(const std::vector<net::SocketAddress>& addresses) {
  std::string out;
  for (const auto& a : addresses) out += (out.empty() ? "" : ", ") + a.ToString();
  return out;
}

void FreeDnsBase(evdns_base* dns) {
  // No callback for the queries still in flight: their Query objects die with the owner.
  evdns_base_free(dns, /*fail_requests=*/0);
}

}  // namespace

struct DnsDiscovery::Entry {
  DnsDiscovery* owner = nullptr;
  DnsKey key;
  uint64_t serial = 0;  // tells a re-added entry from the one a stale reply was for
  std::string host;
  uint16_t port = 0;
  config::Duration every{5000};
  net::EventPtr timer;

  // The round in flight.
  int pending = 0;
  std::vector<net::SocketAddress> found;
  std::string round_error;

  bool settled = false;
  std::string last_error;
  std::optional<std::chrono::system_clock::time_point> last_success;
  std::optional<std::chrono::system_clock::time_point> last_attempt;
};

struct DnsDiscovery::Query {
  DnsDiscovery* owner;
  uint64_t id;
  DnsKey key;
  uint64_t serial;
};

DnsDiscovery::DnsDiscovery(event_base* base, OnChange on_change)
    : base_(base), on_change_(std::move(on_change)), dns_(evdns_base_new(base, 0), &FreeDnsBase) {
  SetOptions();
}

DnsDiscovery::~DnsDiscovery() {
  dns_.reset();
  entries_.clear();
  queries_.clear();
}

void DnsDiscovery::SetOptions() {
  evdns_base_set_option(dns_.get(), "timeout:", kTimeoutSeconds);
  evdns_base_set_option(dns_.get(), "attempts:", kAttempts);
  evdns_base_set_option(dns_.get(), "initial-probe-timeout:", kProbeSeconds);
}

void DnsDiscovery::SetNameservers(const std::optional<net::SocketAddress>& resolver) {
  if (resolver_ && *resolver_ == resolver) return;
  if (resolver_) evdns_base_clear_nameservers_and_suspend(dns_.get());
  if (resolver) {
    if (evdns_base_nameserver_sockaddr_add(dns_.get(), resolver->sockaddr_ptr(), resolver->length(),
                                           0) != 0) {
      spdlog::error("dns: cannot use resolver {}", resolver->ToString());
    } else {
      spdlog::info("dns: resolving with {}", resolver->ToString());
    }
  } else {
    // As glibc would: nameservers, search domains and ndots of resolv.conf, then /etc/hosts.
    int rc = evdns_base_resolv_conf_parse(dns_.get(), DNS_OPTIONS_ALL, "/etc/resolv.conf");
    if (rc != 0) spdlog::warn("dns: /etc/resolv.conf unusable (error {}); asking 127.0.0.1", rc);
    SetOptions();  // resolv.conf's own options must not lengthen our bounds
    spdlog::info("dns: resolving with the nameservers of /etc/resolv.conf");
  }
  if (resolver_) evdns_base_resume(dns_.get());
  resolver_ = resolver;
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
        entry->serial = ++next_query_id_;
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
  SetNameservers(config.resolver);
  entries_ = std::move(next);  // vanished entries' timers go with them
  for (auto it = addresses_.begin(); it != addresses_.end();) {
    it = entries_.contains(it->first) ? std::next(it) : addresses_.erase(it);
  }
}

void DnsDiscovery::OnTimer(evutil_socket_t, short, void* arg) {
  auto* entry = static_cast<Entry*>(arg);
  entry->owner->StartRound(*entry);
}

void DnsDiscovery::StartRound(Entry& entry) {
  entry.pending = 0;
  entry.found.clear();
  entry.round_error.clear();
  entry.last_attempt = std::chrono::system_clock::now();
  for (bool v6 : {false, true}) {
    uint64_t id = ++next_query_id_;
    auto query = std::make_unique<Query>(Query{this, id, entry.key, entry.serial});
    Query* raw = query.get();
    queries_.emplace(id, std::move(query));
    ++entry.pending;
    evdns_request* req =
        v6 ? evdns_base_resolve_ipv6(dns_.get(), entry.host.c_str(), 0, &OnDnsReply, raw)
           : evdns_base_resolve_ipv4(dns_.get(), entry.host.c_str(), 0, &OnDnsReply, raw);
    if (req == nullptr) {
      // Not sent (bad name, no nameserver): no callback will come.
      queries_.erase(id);
      --entry.pending;
      entry.round_error = "cannot send the query";
    }
  }
  if (entry.pending == 0) FinishRound(entry);
}

void DnsDiscovery::OnDnsReply(int result, char type, int count, int, void* addresses, void* arg) {
  auto* query = static_cast<Query*>(arg);
  query->owner->OnAnswer(*query, result, type, count, addresses);
}

void DnsDiscovery::OnAnswer(Query& query, int result, char type, int count, const void* addresses) {
  // Take what we need, then free the query (it owns nothing else).
  DnsKey key = std::move(query.key);
  uint64_t serial = query.serial;
  queries_.erase(query.id);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second->serial != serial) return;  // removed by a reload
  Entry& entry = *it->second;

  if (result == DNS_ERR_NONE && count > 0) {
    for (int i = 0; i < count; ++i) {
      if (type == DNS_IPv4_A) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(entry.port);
        std::memcpy(&sin.sin_addr, static_cast<const char*>(addresses) + 4 * i, 4);
        entry.found.emplace_back(reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
      } else if (type == DNS_IPv6_AAAA) {
        sockaddr_in6 sin6{};
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(entry.port);
        std::memcpy(&sin6.sin6_addr, static_cast<const char*>(addresses) + 16 * i, 16);
        entry.found.emplace_back(reinterpret_cast<sockaddr*>(&sin6), sizeof(sin6));
      }
    }
  } else if (result != DNS_ERR_NONE && result != DNS_ERR_NOTEXIST && result != DNS_ERR_NODATA &&
             entry.round_error.empty()) {
    entry.round_error = evdns_err_to_string(result);
  }
  if (--entry.pending == 0) FinishRound(entry);
}

void DnsDiscovery::FinishRound(Entry& entry) {
  entry.settled = true;
  timeval every = net::ToTimeval(entry.every);
  evtimer_add(entry.timer.get(), &every);

  std::vector<net::SocketAddress>& current = addresses_[entry.key];
  const std::string where = fmt::format("pool {} dns {}", entry.key.pool, entry.key.dns);
  if (entry.found.empty()) {
    // One of the two queries may have answered "no such name" while the other failed: the
    // failure is what the user needs to hear about.
    std::string error = entry.round_error.empty() ? "no A or AAAA record" : entry.round_error;
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
  std::sort(entry.found.begin(), entry.found.end(), AddressLess);
  entry.found.erase(std::unique(entry.found.begin(), entry.found.end()), entry.found.end());
  if (!entry.last_error.empty()) spdlog::info("{}: resolves again", where);
  entry.last_error.clear();
  entry.last_success = entry.last_attempt;
  if (entry.found == current) return;
  spdlog::info("{}: {} address(es): {}", where, entry.found.size(), Join(entry.found));
  current = std::move(entry.found);
  entry.found.clear();
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
