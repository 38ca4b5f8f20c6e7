// The admin API's mutations on the control thread: an operator's backend state and weight
// (design.md §8), POST /reload, and the bearer token file.
#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "proxy/admin/status.h"
#include "proxy/app/server.h"
#include "proxy/base/clock.h"
#include "proxy/base/log.h"

namespace outrigger::app {
namespace {

constexpr int64_t kMaxWeight = 10000;  // as the config's `weight`

Server::AdminAnswer Error(int code, std::string_view message) {
  return {code, nlohmann::json({{"error", message}}).dump()};
}

}  // namespace

Server::AdminAnswer Server::PatchBackend(std::string_view pool_name, std::string_view id,
                                         std::string_view body) {
  const nlohmann::json req = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (req.is_discarded() || !req.is_object()) {
    return Error(400, R"(the body must be a JSON object: {"state": "drain"|"maint"|"ready"} )"
                      R"(and/or {"weight": N})");
  }
  if (req.empty()) return Error(400, "the body sets neither \"state\" nor \"weight\"");
  for (const auto& [key, value] : req.items()) {
    if (key != "state" && key != "weight") {
      return Error(400, fmt::format("unknown key \"{}\" (state, weight)", key));
    }
  }
  std::optional<std::string> state;
  if (req.contains("state")) {
    const nlohmann::json& v = req["state"];
    if (!v.is_string() || (v != "drain" && v != "maint" && v != "ready")) {
      return Error(400, "\"state\" must be \"drain\", \"maint\" or \"ready\"");
    }
    state = v.get<std::string>();
  }
  std::optional<std::optional<uint32_t>> weight;  // outer: given; inner nullopt: as configured
  if (req.contains("weight")) {
    const nlohmann::json& v = req["weight"];
    if (v.is_null()) {
      weight.emplace(std::nullopt);
    } else if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= kMaxWeight) {
      weight.emplace(static_cast<uint32_t>(v.get<int64_t>()));
    } else {
      return Error(400, fmt::format("\"weight\" must be an integer from 0 to {}, or null (as "
                                    "configured)",
                                    kMaxWeight));
    }
  }

  const forward::PoolRuntime* pool = nullptr;
  for (const forward::PoolRuntime& p : snapshot_->pools) {
    if (p.config->name == pool_name) pool = &p;
  }
  if (pool == nullptr) return Error(404, fmt::format("no pool \"{}\"", pool_name));
  std::shared_ptr<upstream::Backend> backend;
  for (const auto& b : pool->backends) {
    if (b->label() == id || b->address().ToString() == id) backend = b;
  }
  if (backend == nullptr) {
    return Error(404, fmt::format("pool \"{}\" has no backend \"{}\"", pool_name, id));
  }

  upstream::OperatorOverride o;
  if (const upstream::OperatorOverride* old = overrides_.Find(pool_name, backend->address())) {
    o = *old;
  }
  if (state == "ready") o.state.reset();
  if (state == "drain") o.state = upstream::OperatorState::kDrain;
  if (state == "maint") o.state = upstream::OperatorState::kMaint;
  if (weight) o.weight = *weight;
  const bool was_out = (backend->unavailable() & upstream::Backend::kOperatorOut) != 0;
  overrides_.Set(pool_name, backend->address(), o);

  // Weights live in the policies' members, which every worker builds from the snapshot: a
  // new snapshot is how a weight reaches every policy with no lock on the request path.
  absl::StatusOr<std::shared_ptr<const forward::Snapshot>> snap =
      forward::BuildSnapshot(snapshot_->config, snapshot_.get(), &dns_->addresses(), &overrides_);
  if (!snap.ok()) return Error(500, std::string(snap.status().message()));
  Publish(*std::move(snap));
  if (was_out && (backend->unavailable() & upstream::Backend::kOperatorOut) == 0) {
    backend->set_available_since_ns(MonoNanos());  // back through slow start
  }
  spdlog::info("admin: pool {} backend {}: {}", pool_name, backend->label(), req.dump());

  const nlohmann::json status =
      nlohmann::json::parse(admin::StatusJson(*snapshot_, collector_.Read(), recent_, scaling_,
                                              dns_status(), MonoNanos(), &overrides_),
                            nullptr, false);
  for (const auto& entry : status["pools"][std::string(pool_name)]["backends"]) {
    if (entry["address"] == backend->address().ToString()) return {200, entry.dump()};
  }
  return {200, "{}"};
}

void Server::AdminReload(std::function<void(AdminAnswer)> done) {
  if (draining_) {
    done(Error(503, "draining: no reload"));
    return;
  }
  reload_waiters_.push_back(std::move(done));
  Reload();
}

Server::AdminAnswer Server::ReloadAnswer(const absl::Status& result) {
  if (result.ok()) return {200, R"({"result":"reloaded"})"};
  nlohmann::json errors = nlohmann::json::array();
  std::istringstream lines{std::string(result.message())};
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) errors.push_back(line);
  }
  return {400, nlohmann::json({{"result", "refused"}, {"errors", errors}}).dump()};
}

absl::StatusOr<std::optional<std::string>> Server::ReadToken(const config::Config& config) {
  const std::string& path = config.admin.token_file;
  if (path.empty()) return std::optional<std::string>();
  std::ifstream in(path);
  std::stringstream text;
  if (!in || !(text << in.rdbuf())) {
    return absl::InvalidArgumentError(
        fmt::format("{}: admin.token_file: cannot read \"{}\"", config.file, path));
  }
  std::string token = text.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: admin.token_file: \"{}\" is empty", config.file, path));
  }
  return std::optional<std::string>(std::move(token));
}

}  // namespace outrigger::app
