// Reader for a route's `plugins:` list (plugin_config.h), apart from loader.cc.
#pragma once

#include <vector>

#include "proxy/config/plugin_config.h"
#include "proxy/config/yaml_reader.h"

namespace outrigger::config {

// `plugins: [ {NAME: {...}}, ... ]`: each item a map of exactly one plugin name to its
// settings, kept in order (the request phase runs them top-down).
void ReadPlugins(const Field& f, std::vector<PluginConfig>* plugins, Diagnostics* diag);

}  // namespace outrigger::config
