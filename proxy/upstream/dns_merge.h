// How one resolution round of a `dns` entry (an A and an AAAA query) changes its address
// set. Kept apart from DnsDiscovery so that it can be tested without a DNS server.
#pragma once

#include <vector>

#include "proxy/net/address.h"

namespace outrigger::upstream {

// One family's outcome in a round.
struct FamilyAnswer {
  int family = 0;         // AF_INET or AF_INET6
  bool answered = false;  // false: the query failed (timeout, SERVFAIL, refused, ...)
  std::vector<net::SocketAddress> addresses;  // when answered: all of them (maybe none)
};

// The set after a round: each family that answered contributes its answer, each family
// whose query failed keeps its addresses from `current`, and a family no answer mentions
// keeps them too. So an A answer without its AAAA never drops the AAAA addresses, nor the
// reverse. Sorted, without duplicates.
std::vector<net::SocketAddress> MergeRound(const std::vector<net::SocketAddress>& current,
                                           const std::vector<FamilyAnswer>& answers);

// The order every address set is kept in (family, then bytes).
void SortAddresses(std::vector<net::SocketAddress>& addresses);

}  // namespace outrigger::upstream
