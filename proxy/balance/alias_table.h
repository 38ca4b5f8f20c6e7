// AliasTable: draws an index in [0, n) with probability weight[i] / Σ weight in O(1), using
// Vose's alias method (M. D. Vose, "A linear algorithm for generating random numbers with a
// given distribution", IEEE TSE 1991). Built once in O(n); all arithmetic is integral, so the
// distribution is exact, not rounded to a float. Immutable after construction.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "proxy/balance/policy.h"
#include "proxy/base/prng.h"

namespace outrigger::balance {

class AliasTable {
 public:
  // Column weights are the members' configured weights.
  explicit AliasTable(std::span<const Member> members);

  // REQUIRES: built from at least one member.
  size_t Draw(base::Rng& rng) const {
    const size_t column = rng.Below(columns_.size());
    const Column& c = columns_[column];
    return rng.Below(total_) < c.threshold ? column : c.alias;
  }

 private:
  struct Column {
    uint64_t threshold;  // keep `column` when a draw in [0, total_) falls below this
    uint32_t alias;      // otherwise take this one
  };

  std::vector<Column> columns_;
  uint64_t total_ = 0;  // Σ weight: each column holds total_ units after scaling by n
};

}  // namespace outrigger::balance
