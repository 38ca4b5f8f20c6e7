// Protocol upgrades (RFC 9110 §7.8): which protocols a request asks to switch to, whether a
// route allows all of them, and whether a 101 switches to one of them. Only a request every
// one of whose protocols is allowed goes upstream, and only a 101 that names protocols the
// client asked for becomes a tunnel: a backend must not take the connection somewhere the
// route's `upgrades` never let the client go.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/message.h"

namespace outrigger::http {

// True when every protocol in the head's Upgrade fields (all of them, as one list) has its
// name in `allowed` (lower-case names, as config::RouteConfig::upgrades holds them); a
// protocol-version ("websocket/13") is not compared. True when no Upgrade field names any.
bool UpgradesAllowed(const std::vector<Header>& headers, const std::vector<std::string>& allowed);

// Sets `*out` to the head's Upgrade field values as one comma-separated list, so that the
// request's protocols outlive its head bytes (a 101 is checked against them).
void CopyUpgradeList(const std::vector<Header>& headers, std::string* out);

// True when a 101's Upgrade fields name at least one protocol and each by a name in
// `requested` (CopyUpgradeList's list; names compared case-insensitively).
bool SwitchesToRequested(const std::vector<Header>& response_headers, std::string_view requested);

}  // namespace outrigger::http
