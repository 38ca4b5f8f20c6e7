// Readers for a listener's request-normalization and forwarded-header keys (`normalize`,
// `forwarded_for`, `forwarded`: config.h ListenerConfig), apart from loader.cc.
#pragma once

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace outrigger::config {

// `normalize: { merge_slashes: true|false, escaped_slashes: keep|reject|decode }`.
void ReadNormalize(const Field& f, NormalizeConfig* normalize, Diagnostics* diag);
// `forwarded_for: replace|append`.
void ReadForwardedFor(const Field& f, ForwardedForMode* mode, Diagnostics* diag);
// `forwarded: off|rfc7239`.
void ReadForwarded(const Field& f, bool* rfc7239, Diagnostics* diag);

}  // namespace outrigger::config
