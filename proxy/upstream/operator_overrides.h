// An operator's runtime overrides of a backend (the admin API's PATCH): its state (drain,
// maint) and its weight. Keyed by pool name and address, not by Backend object, so that
// they outlive the Backend itself: a reload that drops and re-adds the address, or a DNS
// resolution that loses and finds it again, gets the override back until it is changed back.
//
// Thread contract: control thread only; workers see the effect through the Backend's
// unavailable bits and the snapshot's member weights.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "proxy/net/address.h"
#include "proxy/upstream/backend.h"

namespace outrigger::upstream {

enum class OperatorState : uint8_t { kDrain, kMaint };

std::string_view OperatorStateName(OperatorState state);

struct OperatorOverride {
  std::optional<OperatorState> state;  // nullopt: ready (as probes and circuit say)
  std::optional<uint32_t> weight;      // nullopt: as configured; 0: takes no new request
  bool empty() const { return !state && !weight; }
};

class OperatorOverrides {
 public:
  // Null when the backend has none.
  const OperatorOverride* Find(std::string_view pool, const net::SocketAddress& address) const;
  // An empty override erases the entry (the backend is back to its configured self).
  void Set(std::string_view pool, const net::SocketAddress& address, OperatorOverride value);
  // Sets or clears the backend's kOperatorOut and kMaint bits as its override says.
  void ApplyTo(Backend& backend) const;
  // Whether probes of the backend are stopped (maint).
  bool InMaint(const Backend& backend) const;

 private:
  using Key = std::pair<std::string, std::string>;  // pool, address.ToString()
  absl::flat_hash_map<Key, OperatorOverride> entries_;
};

}  // namespace outrigger::upstream
