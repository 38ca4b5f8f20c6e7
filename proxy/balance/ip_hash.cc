// Consistent hashing of PickContext::hash_key (the client's address, a header or a cookie) onto
// a Maglev lookup table (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
// Balancer", NSDI 2016, §3.4).
//
// Table: M slots, M the smallest prime ≥ max(65537, 100 × members), so each member owns
// ~M/n slots and a change of membership moves little more than the minimal share of keys.
// Each member walks its own permutation of the slots, (offset + j × skip) mod M, offset and
// skip derived from a stable hash of its address (stable_hash.h), and the members take turns
// claiming their next free slot. Weights are Maglev's weighted population: per round a member
// earns its weight in credit and claims one slot per max-weight of credit, so slot counts are
// proportional to weight. Built once per snapshot on the control thread (PrepareIpHash) and
// shared read-only by every worker's instance, O(M log M) expected; the same members give the
// same table in every worker and after a restart, whatever their order.
//
// Pick: slot StableHash64(key) mod M. When that member is ineligible (down, draining or the
// retry's exclude), the key takes its second, third, ... choice: slots chosen by re-mixing
// the key's hash, so keys of a dead member spread over the others by weight and each key
// still lands on the same backend every time. After kChoices misses, rendezvous hashing over
// the eligible members decides (same answer for the same key and eligible set).
// O(1) per pick while most weight is eligible; O(n) worst case; no allocation.
//
// Slow start is ignored here, deliberately: ramping a member means moving keys onto it and
// then moving them again, and a client's affinity is what ip_hash exists for; a recovered
// member gets its keys back at once, as in nginx's and HAProxy's hash balancing.
#include "proxy/balance/ip_hash.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numeric>
#include <queue>
#include <utility>
#include <vector>

#include "proxy/balance/eligible.h"
#include "proxy/balance/policy.h"
#include "proxy/balance/stable_hash.h"

namespace outrigger::balance {
namespace {

constexpr uint64_t kMinTableSize = 65537;
constexpr uint64_t kSlotsPerMember = 100;
constexpr int kChoices = 32;
constexpr uint64_t kOffsetSeed = 0x6f66667365740000ull;  // "offset"
constexpr uint64_t kSkipSeed = 0x736b697000000000ull;    // "skip"

bool IsPrime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

uint64_t TableSize(size_t members) {
  uint64_t m = std::max<uint64_t>(kMinTableSize, kSlotsPerMember * members);
  while (!IsPrime(m)) ++m;
  return m;
}

// What every worker's IpHash of one pool shares, read-only: built once per snapshot on the
// control thread (PrepareIpHash), not per worker (a table is 4 bytes × M, 256 KB at least).
struct IpHashTable {
  std::vector<uint64_t> identity;  // StableHash64 of each member's address
  std::vector<uint32_t> slots;     // slot → member index
  uint64_t turns = 0;              // member turns the population took
};

class TableBuilder {
 public:
  TableBuilder(std::span<const Member> members, IpHashTable* table)
      : members_(members),
        identity_(table->identity),
        table_(table->slots),
        population_turns_(table->turns) {
    identity_.reserve(members_.size());
    for (const Member& m : members_) {
      identity_.push_back(StableHash64(m.backend->address().ToString()));
    }
    if (!members_.empty()) Populate();
  }

 private:
  // Maglev's population (the paper's Pseudocode 1) with weighted turns. Round by round, each
  // member (in identity order) earns its weight in credit and claims one slot per max-weight
  // of credit. A member's credit is a closed form of the rounds gone by, so only the turns in
  // which a member claims are taken, in (round, identity rank) order from a heap: the same
  // table as visiting every member every round, in O((M + n) log n) rather than
  // O(M × n × max weight / total weight), which was seconds for 10,000 backends with one of
  // weight 10,000.
  void Populate() {
    const uint64_t size = TableSize(members_.size());
    const size_t n = members_.size();
    // Visit members by identity so the table does not depend on the configured order.
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return identity_[a] < identity_[b]; });
    std::vector<uint64_t> offset(n), skip(n), next(n, 0), credit(n, 0), last_round(n, 0);
    uint64_t max_weight = 1;
    for (size_t i = 0; i < n; ++i) {
      offset[i] = MixHash64(identity_[i] ^ kOffsetSeed) % size;
      skip[i] = MixHash64(identity_[i] ^ kSkipSeed) % (size - 1) + 1;
      max_weight = std::max<uint64_t>(max_weight, members_[i].weight);
    }
    // The first round (from 1) after `round` in which a member holding `c` credit claims.
    auto next_claim = [&](size_t i, uint64_t round, uint64_t c) {
      const uint64_t w = members_[i].weight;
      return round + (max_weight - c + w - 1) / w;
    };
    using Turn = std::pair<uint64_t, size_t>;  // (round, rank in `order`)
    std::priority_queue<Turn, std::vector<Turn>, std::greater<>> turns;
    for (size_t k = 0; k < n; ++k) turns.emplace(next_claim(order[k], 0, 0), k);
    constexpr uint32_t kEmpty = UINT32_MAX;
    table_.assign(size, kEmpty);
    uint64_t filled = 0;
    while (filled < size) {
      const auto [round, k] = turns.top();
      turns.pop();
      ++population_turns_;
      const size_t i = order[k];
      credit[i] += (round - last_round[i]) * members_[i].weight;
      last_round[i] = round;
      for (; credit[i] >= max_weight && filled < size; credit[i] -= max_weight) {
        uint64_t slot = (offset[i] + next[i] * skip[i]) % size;
        while (table_[slot] != kEmpty) slot = (offset[i] + ++next[i] * skip[i]) % size;
        table_[slot] = static_cast<uint32_t>(i);
        ++next[i];
        ++filled;
      }
      turns.emplace(next_claim(i, round, credit[i]), k);
    }
  }

  std::span<const Member> members_;
  std::vector<uint64_t>& identity_;
  std::vector<uint32_t>& table_;
  uint64_t& population_turns_;
};

class IpHash final : public BalancingPolicy {
 public:
  IpHash(std::span<const Member> members, std::shared_ptr<const IpHashTable> table)
      : members_(members.begin(), members.end()), table_(std::move(table)) {}

  // BalancingPolicy
  upstream::Backend* Pick(const PickContext& ctx) override {
    const std::vector<uint32_t>& slots = table_->slots;
    if (slots.empty()) return nullptr;
    uint64_t h = StableHash64(ctx.hash_key);
    for (int choice = 0; choice < kChoices; ++choice) {
      upstream::Backend* b = members_[slots[h % slots.size()]].backend;
      if (Eligible(b, ctx)) return b;
      h = MixHash64(h + 0x9e3779b97f4a7c15ull);
    }
    return Rendezvous(h, ctx);
  }

 private:
  // Highest-random-weight choice among the eligible, each member's score drawn ∝ its weight
  //
  // (weighted rendezvous hashing's score −weight / ln(u), u uniform in (0, 1] from the key and
  // member).
  upstream::Backend* Rendezvous(uint64_t key_hash, const PickContext& ctx) const {
    size_t best = members_.size();
    double best_score = 0;
    for (size_t i = 0; i < members_.size(); ++i) {
      if (!Eligible(members_[i].backend, ctx)) continue;
      const double u =
          (static_cast<double>(MixHash64(key_hash ^ table_->identity[i]) >> 11) + 0.5) * 0x1.0p-53;
      const double score = -static_cast<double>(members_[i].weight) / std::log(u);
      if (best == members_.size() || score > best_score) {
        best = i;
        best_score = score;
      }
    }
    return best == members_.size() ? ExcludedOrNone(members_, ctx) : members_[best].backend;
  }

  const std::vector<Member> members_;  // same order as the table's member indices
  const std::shared_ptr<const IpHashTable> table_;
};

}  // namespace

std::shared_ptr<const void> PrepareIpHash(std::span<const Member> members) {
  auto table = std::make_shared<IpHashTable>();
  TableBuilder(members, table.get());
  return table;
}

std::unique_ptr<BalancingPolicy> MakeIpHash(std::span<const Member> members,
                                            const PolicyOptions& options) {
  // `prepared` is PrepareIpHash's for these same members (forward::BuildSnapshot); a policy
  // made without one (tests) builds its own.
  std::shared_ptr<const void> prepared =
      options.prepared != nullptr ? options.prepared : PrepareIpHash(members);
  return std::make_unique<IpHash>(members, std::static_pointer_cast<const IpHashTable>(prepared));
}

uint64_t IpHashPopulationTurns(std::span<const Member> members) {
  return std::static_pointer_cast<const IpHashTable>(PrepareIpHash(members))->turns;
}

}  // namespace outrigger::balance
