// Checks that span sections of the config (a route names a pool defined elsewhere, two
// listeners share a port), run once the whole file has been read so their order in the
// file does not matter. Internal to the loader.
#pragma once

#include <optional>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace outrigger::config {

// Positions of values the cross-section checks point at, which Config does not keep.
// Parallel to Config: one entry per listener, and per route of that listener.
struct ValueMarks {
  std::optional<SourceMark> admin_listen;  // nullopt: admin.listen took its default
  std::vector<SourceMark> listener_listen;
  std::vector<std::vector<SourceMark>> route_pool;
};

// Reports, to `diag`: routes naming an undefined pool; routes of a listener that repeat
// an earlier route's host and path_prefix (they could never match); listeners whose
// addresses collide with each other or with the admin listener (a wildcard address takes
// its port on every interface); backends of a pool that repeat an address, a dns name or a name.
// Values already reported as invalid (empty names, unparsed addresses) are skipped.
void ValidateCrossReferences(const Config& config, const ValueMarks& marks, Diagnostics* diag);

}  // namespace outrigger::config
