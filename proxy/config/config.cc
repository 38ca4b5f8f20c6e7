#include "proxy/config/config.h"

namespace outrigger::config {

const PoolConfig* Config::FindPool(std::string_view name) const {
  for (const PoolConfig& pool : pools) {
    if (pool.name == name) return &pool;
  }
  return nullptr;
}

}  // namespace outrigger::config
