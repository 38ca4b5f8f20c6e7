// Router: which route of a listener serves a request.
//
// Matching is nginx's: routes with a `host` equal to the request's Host (case-insensitive,
// any :port removed, a trailing dot ignored) are tried first, longest `path_prefix` wins;
// when none of them matches the path, routes without `host` are tried, longest prefix wins.
// A prefix matches the path when the path starts with it (the query is part of the path).
// Built once per config snapshot; Match() is const, allocation-free, and safe from any thread.
#pragma once

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
  struct Entry {
    std::string host;  // lower-cased; empty: any host
    std::string prefix;
    size_t index;
  };
  std::vector<Entry> entries_;  // host routes first, then by descending prefix length
};

}  // namespace outrigger::route
