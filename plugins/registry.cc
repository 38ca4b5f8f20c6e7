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
  // Matched by kind and settings, not position: a plugin added above a rate_limit must not
  // reset it. Each old plugin's state goes to one new plugin at most.
  std::vector<bool> taken(previous != nullptr ? previous->size() : 0);
  for (const config::PluginConfig& c : configs) {
    std::unique_ptr<Plugin> p =
        std::visit([&ids](const auto& spec) { return Make(spec, ids); }, c.spec);
    for (size_t i = 0; i < taken.size(); ++i) {
      if (!taken[i] && p->Adopt(previous->at(i))) {
        taken[i] = true;
        break;
      }
    }
    plugins.push_back(std::move(p));
  }
  return std::make_shared<const Chain>(std::move(plugins));
}

}  // namespace outrigger::plugins
