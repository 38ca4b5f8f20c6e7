// Readers for a pool's `health` and `retries` sections (config.h HealthConfig, RetryConfig),
// apart from loader.cc so the pool's other keys stay readable there.
#pragma once

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace outrigger::config {

// `protocol`: the pool's, already read (a `type: grpc` probe needs h2).
void ReadHealth(const Field& f, PoolProtocol protocol, HealthConfig* health, Diagnostics* diag);
void ReadRetries(const Field& f, RetryConfig* retries, Diagnostics* diag);

// `expect_status` text: "200", "2xx" or "200-399" (statuses 100..599).
std::optional<StatusRange> ParseStatusRange(std::string_view text);

}  // namespace outrigger::config
