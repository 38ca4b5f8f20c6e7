// The status page the admin listener serves at `GET /`: one HTML document with its CSS and
// script inline and no external fetch (it must work in an air-gapped cluster), which
// redraws itself from `/status` every 2 s and keeps a few minutes of each backend's history
// in the browser for its sparklines. Drain and ready buttons call the runtime API with the
// bearer token typed into the page (kept in the page's memory only).
#pragma once

#include <string_view>

namespace outrigger::admin {

std::string_view StatusPage();

// What the page may load: nothing from anywhere but its own inline code and its own origin's
// JSON. Sent with the page as Content-Security-Policy.
inline constexpr const char* kStatusPagePolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

}  // namespace outrigger::admin
