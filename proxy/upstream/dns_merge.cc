#include "proxy/upstream/dns_merge.h"

#include <algorithm>
#include <cstring>

namespace outrigger::upstream {

void SortAddresses(std::vector<net::SocketAddress>& addresses) {
  std::sort(addresses.begin(), addresses.end(),
            [](const net::SocketAddress& a, const net::SocketAddress& b) {
              if (a.family() != b.family()) return a.family() < b.family();
              return std::memcmp(a.sockaddr_ptr(), b.sockaddr_ptr(), a.length()) < 0;
            });
  addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
}

std::vector<net::SocketAddress> MergeRound(const std::vector<net::SocketAddress>& current,
                                           const std::vector<FamilyAnswer>& answers) {
  auto answered = [&](int family) {
    return std::any_of(answers.begin(), answers.end(),
                       [&](const FamilyAnswer& a) { return a.family == family && a.answered; });
  };
  std::vector<net::SocketAddress> out;
  for (const net::SocketAddress& a : current) {
    if (!answered(a.family())) out.push_back(a);
  }
  for (const FamilyAnswer& answer : answers) {
    if (answer.answered) out.insert(out.end(), answer.addresses.begin(), answer.addresses.end());
  }
  SortAddresses(out);
  return out;
}

}  // namespace outrigger::upstream
