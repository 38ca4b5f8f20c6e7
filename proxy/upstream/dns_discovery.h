// DnsDiscovery: the address sets of a config's `dns` backend entries, kept current by
// re-resolving each name (A and AAAA) every `resolve_every` with net::DnsResolver (c-ares:
// EDNS0 and TCP fallback, so a name may have hundreds of records).
//
// Thread contract: control thread only — construction, every call and every callback run
// on the control thread's event_base. Workers never see this object; they see the
// snapshots the owner builds from addresses() (forward/snapshot.h).
//
// A failed or empty resolution keeps the last good set (a DNS hiccup must not empty a
// pool) and is logged once per change of state, not once per attempt. The A and AAAA
// answers of one round are merged: a family whose query failed keeps its last addresses
// (dns_merge.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/net/address.h"
#include "proxy/net/dns_resolver.h"
#include "proxy/net/event.h"

namespace outrigger::upstream {

// Identifies one `dns` entry across resolutions and reloads: pool name and the entry's
// "host:port" as written.
struct DnsKey {
  std::string pool;
  std::string dns;
  friend auto operator<=>(const DnsKey&, const DnsKey&) = default;
};

// Every `dns` entry's current addresses (with the entry's port), sorted. An entry not
// resolved yet is absent or empty.
using ResolvedAddresses = std::map<DnsKey, std::vector<net::SocketAddress>>;

// What /status shows about one entry.
struct DnsEntryStatus {
  DnsKey key;
  size_t addresses = 0;  // in the current (last good) set
  // Wall-clock time of the last successful resolution; nullopt: none yet.
  std::optional<std::chrono::system_clock::time_point> last_success;
  std::optional<std::chrono::system_clock::time_point> last_attempt;
  std::string last_error;  // of the last attempt; "" when it succeeded
};

class DnsDiscovery {
 public:
  // Called after a resolution changed an entry's address set.
  using OnChange = std::function<void()>;

  // REQUIRES: `base` is the control thread's loop and outlives this object.
  DnsDiscovery(event_base* base, OnChange on_change);
  ~DnsDiscovery();
  DnsDiscovery(const DnsDiscovery&) = delete;
  DnsDiscovery& operator=(const DnsDiscovery&) = delete;

  // Adopts `config`'s `dns` entries and its `resolver`: entries already known keep their
  // address set and schedule; new ones are resolved at once (asynchronously: their set is
  // empty until the answer comes); vanished ones are forgotten.
  void Configure(const config::Config& config);

  const ResolvedAddresses& addresses() const { return addresses_; }
  std::vector<DnsEntryStatus> status() const;
  // True once every entry has had at least one answer or failure since it was added.
  bool settled() const;

 private:
  struct Entry;
  void SetNameservers(const std::optional<net::SocketAddress>& resolver);
  void StartRound(Entry& entry);
  void OnAnswer(const DnsKey& key, uint64_t round, int family,
                absl::StatusOr<std::vector<net::SocketAddress>> answer);
  void FinishRound(Entry& entry);
  static void OnTimer(evutil_socket_t, short, void* entry);

  event_base* const base_;
  OnChange on_change_;
  std::optional<std::optional<net::SocketAddress>> resolver_;  // outer nullopt: not set yet
  std::map<DnsKey, std::unique_ptr<Entry>> entries_;
  // Numbers rounds across all entries: an answer for a round that is no longer its entry's
  // current one (entry removed, re-added, or its round restarted) is ignored.
  uint64_t next_round_ = 0;
  ResolvedAddresses addresses_;
  // Declared last, so destroyed first: its pending callbacks are dropped before the
  // entries they refer to go.
  net::DnsResolver dns_;
};

}  // namespace outrigger::upstream
