// Readers for a listener's `access_log` and `request_id` sections (config.h AccessLogConfig,
// RequestIdConfig), apart from loader.cc so the listener's other keys stay readable there.
#pragma once

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace outrigger::config {

void ReadAccessLog(const Field& f, AccessLogConfig* log, Diagnostics* diag);
void ReadRequestId(const Field& f, RequestIdConfig* id, Diagnostics* diag);

}  // namespace outrigger::config
