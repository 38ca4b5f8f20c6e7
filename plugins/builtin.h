// The built-in plugins' factories, one per plugin file; registry.cc picks by config type.
#pragma once

#include <memory>

#include "plugins/plugin.h"
#include "proxy/config/plugin_config.h"

namespace outrigger::plugins {

std::unique_ptr<Plugin> Make(const config::HeadersPluginConfig& c, ActionIds& ids);
std::unique_ptr<Plugin> Make(const config::RewritePluginConfig& c, ActionIds& ids);
std::unique_ptr<Plugin> Make(const config::RedirectPluginConfig& c, ActionIds& ids);
std::unique_ptr<Plugin> Make(const config::RespondPluginConfig& c, ActionIds& ids);
std::unique_ptr<Plugin> Make(const config::IpFilterPluginConfig& c, ActionIds& ids);
std::unique_ptr<Plugin> Make(const config::RateLimitPluginConfig& c, ActionIds& ids);
std::unique_ptr<Plugin> Make(const config::CorsPluginConfig& c, ActionIds& ids);
std::unique_ptr<Plugin> Make(const config::BasicAuthPluginConfig& c, ActionIds& ids);
std::unique_ptr<Plugin> Make(const config::CompressPluginConfig& c, ActionIds& ids);

}  // namespace outrigger::plugins
