// Chain: a route's plugins in order, built once per snapshot (BuildChain) and run by the
// exchange: the request phase top-down until one answers, the response and log phases
// bottom-up over the plugins that ran.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "plugins/plugin.h"
#include "proxy/config/plugin_config.h"

namespace outrigger::plugins {

class Chain {
 public:
  explicit Chain(std::vector<std::unique_ptr<const Plugin>> plugins);

  size_t size() const { return plugins_.size(); }
  const Plugin& at(size_t i) const { return *plugins_[i]; }
  // The request phase from the first plugin: kAnswered when one answered (ctx.answer()),
  // kPending when one waits for a store (then Resume, once ctx.wait() has its reply).
  Plugin::Verdict OnRequest(Context& ctx) const;
  Plugin::Verdict Resume(Context& ctx) const;
  void OnResponse(Context& ctx, const http::ResponseHead& response) const;
  void OnLog(Context& ctx, const ExchangeEnd& end) const;
  // Whether any plugin takes part in the log phase: without one, the exchange need not
  // gather the ExchangeEnd.
  bool has_log_phase() const { return (any_phases_ & Plugin::kLogPhase) != 0; }
  // Whether any plugin reads $host, $path or $query (Plugin::reads_target_vars).
  bool reads_target_vars() const { return reads_target_vars_; }

 private:
  Plugin::Verdict RunFrom(Context& ctx) const;  // from plugin ctx.ran on

  std::vector<std::unique_ptr<const Plugin>> plugins_;
  std::vector<uint8_t> phases_;  // each plugin's later_phases(), read once
  uint8_t any_phases_ = 0;       // their union
  bool reads_target_vars_ = false;
};

// The chain for a route's `plugins` (registry.cc holds the table of plugin kinds). Its
// action series are registered in `ids`; `previous` (may be null) is the same route's chain
// in the snapshot before, whose plugins' state is adopted where it still applies.
std::shared_ptr<const Chain> BuildChain(const std::vector<config::PluginConfig>& configs,
                                        ActionIds& ids, const Chain* previous);

}  // namespace outrigger::plugins
