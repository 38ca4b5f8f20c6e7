#include "proxy/route/router.h"

#include <algorithm>

namespace outrigger::route {
namespace {

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// The Host header's name part: any ":port" and one trailing dot removed ("[v6]:p" keeps
// its brackets, as a configured IPv6 host is written that way too).
std::string_view HostName(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else if (size_t colon = host.find(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host.size() > 1 && host.back() == '.') host.remove_suffix(1);
  return host;
}

// `configured` is already lower-case without a trailing dot.
bool HostEquals(std::string_view configured, std::string_view request) {
  return configured.size() == request.size() &&
         std::equal(configured.begin(), configured.end(), request.begin(),
                    [](char a, char b) { return a == AsciiLower(b); });
}

// `suffix` is a wildcard's lower-case ".example.com": the request's name must end with it and
// have at least one character before (nginx's "*.example.com" does not match "example.com").
bool HostEndsWith(std::string_view suffix, std::string_view request) {
  return request.size() > suffix.size() &&
         HostEquals(suffix, request.substr(request.size() - suffix.size()));
}

}  // namespace

Router::Router(const std::vector<config::RouteConfig>& routes) {
  entries_.reserve(routes.size());
  for (size_t i = 0; i < routes.size(); ++i) {
    std::string host;
    Kind kind = Kind::kAny;
    if (routes[i].host) {
      host = HostName(*routes[i].host);
      std::transform(host.begin(), host.end(), host.begin(), AsciiLower);
      kind = Kind::kExact;
      if (host.starts_with("*.")) {
        host.erase(0, 1);  // ".example.com"
        kind = Kind::kWildcard;
      }
    }
    entries_.push_back(Entry{std::move(host), routes[i].path_prefix, i, kind});
  }
  // Exact hosts, then wildcards (longest first, as nginx picks the longest wildcard), then
  // any host; within each, longest prefix first. Stable, so among equals the route written
  // first wins.
  std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    if (a.kind != b.kind) return a.kind < b.kind;
    if (a.kind == Kind::kWildcard && a.host.size() != b.host.size())
      return a.host.size() > b.host.size();
    return a.prefix.size() > b.prefix.size();
  });
}

std::optional<size_t> Router::Match(std::string_view host, std::string_view path) const {
  std::string_view name = HostName(host);
  for (const Entry& e : entries_) {
    if (e.kind == Kind::kExact && !HostEquals(e.host, name)) continue;
    if (e.kind == Kind::kWildcard && !HostEndsWith(e.host, name)) continue;
    if (path.starts_with(e.prefix)) return e.index;
  }
  return std::nullopt;
}

}  // namespace outrigger::route
