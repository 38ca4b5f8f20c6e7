// ip_hash's Maglev table (ip_hash.cc), seen from outside for tests that bound its work.
#pragma once

#include <cstdint>
#include <span>

#include "proxy/balance/policy.h"

namespace outrigger::balance {

// Member turns the table population of `members` takes: each turn claims at least one slot,
// so this is at most the table size plus the member count, whatever the weights.
uint64_t IpHashPopulationTurns(std::span<const Member> members);

}  // namespace outrigger::balance
