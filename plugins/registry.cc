// The table of plugin kinds: config/plugin_reader.cc reads each kind's settings into its
// config type, and the overload of Make for that type (builtin.h) builds it.
#include <variant>

#include "plugins/builtin.h"
#include "plugins/chain.h"

namespace outrigger::plugins {

std::shared_ptr<const Chain> BuildChain(const std::vector<config::PluginConfig>& configs,
                                        ActionIds& ids, const Chain* previous) {
  std::vector<std::unique_ptr<const Plugin>> plugins;
  plugins.reserve(configs.size());
  for (const config::PluginConfig& c : configs) {
    std::unique_ptr<Plugin> p =
        std::visit([&ids](const auto& spec) { return Make(spec, ids); }, c.spec);
    if (previous != nullptr && plugins.size() < previous->size()) {
      p->Adopt(previous->at(plugins.size()));
    }
    plugins.push_back(std::move(p));
  }
  return std::make_shared<const Chain>(std::move(plugins));
}

}  // namespace outrigger::plugins
