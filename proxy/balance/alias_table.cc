#include "proxy/balance/alias_table.h"

namespace outrigger::balance {

AliasTable::AliasTable(std::span<const Member> members) : columns_(members.size()) {
  const uint64_t n = members.size();
  for (const Member& m : members) total_ += m.weight;
  // Column i starts with weight_i × n units; every column must end holding exactly total_
  // units, its own plus those lent by its alias.
  std::vector<uint64_t> units(n);
  std::vector<uint32_t> small;
  std::vector<uint32_t> large;
  for (uint32_t i = 0; i < n; ++i) {
    units[i] = members[i].weight * n;
    (units[i] < total_ ? small : large).push_back(i);
  }
  while (!small.empty() && !large.empty()) {
    const uint32_t s = small.back();
    small.pop_back();
    const uint32_t l = large.back();
    columns_[s] = {units[s], l};
    units[l] -= total_ - units[s];
    if (units[l] < total_) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // Whatever is left holds exactly total_ units (exact integer arithmetic): always itself.
  for (uint32_t i : small) columns_[i] = {total_, i};
  for (uint32_t i : large) columns_[i] = {total_, i};
}

}  // namespace outrigger::balance
