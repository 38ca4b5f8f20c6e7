// The table of plugin kinds: config/plugin_reader.cc reads each kind's settings into its
// config type, and the overload of Make for that type (builtin.h) builds it.
#include <variant>

#include "plugins/builtin.h"
#include "plugins/chain.h"

namespace outrigger::plugins {

std::shared_ptr<const Chain> BuildChain(const std::vector<config::PluginConfig>& configs,
                                        ActionIds& ids) {
  std::vector<std::unique_ptr<const Plugin>> plugins;
  plugins.reserve(configs.size());
  for (const config::PluginConfig& c : configs) {
    plugins.push_back(std::visit([&ids](const auto& spec) { return Make(spec, ids); }, c.spec));
  }
  return std::make_shared<const Chain>(std::move(plugins));
}

}  // namespace outrigger::plugins
