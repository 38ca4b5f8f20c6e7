#include "proxy/http/upgrade.h"

#include <algorithm>

#include "proxy/http/fields.h"
#include "proxy/http/head_writer.h"

namespace outrigger::http {
namespace {

bool IsUpgradeField(const Header& h) {
  return h.name.size() == 7 && EqualsIgnoreCase(h.name, "upgrade");
}

// Calls fn(name) for the name of each protocol (protocol = name ["/" version]) in `list`,
// until fn returns false; returns false then, else true.
template <typename Fn>
bool EachProtocolName(std::string_view list, Fn fn) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view protocol = fields::TrimOws(list.substr(0, comma));
    if (!protocol.empty() && !fn(fields::TrimOws(protocol.substr(0, protocol.find('/'))))) {
      return false;
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return true;
}

bool ListHasProtocolName(std::string_view list, std::string_view name) {
  return !EachProtocolName(list, [&](std::string_view n) { return !EqualsIgnoreCase(n, name); });
}

}  // namespace

bool UpgradesAllowed(const std::vector<Header>& headers, const std::vector<std::string>& allowed) {
  return std::all_of(headers.begin(), headers.end(), [&](const Header& h) {
    return !IsUpgradeField(h) || EachProtocolName(h.value, [&](std::string_view name) {
      return std::any_of(allowed.begin(), allowed.end(),
                         [&](const std::string& a) { return EqualsIgnoreCase(a, name); });
    });
  });
}

void CopyUpgradeList(const std::vector<Header>& headers, std::string* out) {
  out->clear();
  for (const Header& h : headers) {
    if (!IsUpgradeField(h)) continue;
    if (!out->empty()) out->append(", ");
    out->append(h.value);
  }
}

bool SwitchesToRequested(const std::vector<Header>& response_headers, std::string_view requested) {
  bool named = false;
  for (const Header& h : response_headers) {
    if (!IsUpgradeField(h)) continue;
    bool ok = EachProtocolName(h.value, [&](std::string_view name) {
      named = true;
      return ListHasProtocolName(requested, name);
    });
    if (!ok) return false;
  }
  return named;
}

}  // namespace outrigger::http
