// Router: which route of a listener serves a request.
//
// Matching is nginx's: routes with a `host` equal to the request's Host (case-insensitive,
// any :port removed, a trailing dot ignored) are tried first, longest `path_prefix` wins;
// when none of them matches the path, routes whose `host` is a leading wildcard
// ("*.example.com": any name ending in ".example.com", not "example.com" itself) are tried,
// longest wildcard first, then longest prefix; then routes without `host`.
// A prefix matches the path when the path starts with it (the query is part of the path).
// Built once per config snapshot; Match() is const, allocation-free, and safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "proxy/config/config.h"

namespace outrigger::route {

class Router {
 public:
  explicit Router(const std::vector<config::RouteConfig>& routes);

  // Index into the `routes` it was built from, or nullopt when none matches (answer 404).
  std::optional<size_t> Match(std::string_view host, std::string_view path) const;

 private:
  enum class Kind : uint8_t { kExact, kWildcard, kAny };  // in order of precedence
  struct Entry {
    std::string host;  // lower-cased; kWildcard: the suffix (".example.com"); kAny: empty
    std::string prefix;
    size_t index;
    Kind kind;
  };
  std::vector<Entry> entries_;  // by Kind, then (see the constructor) by descending length
};

}  // namespace outrigger::route
