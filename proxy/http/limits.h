#pragma once

#include <cstddef>

namespace outrigger::http {

// Limits on what a peer may make us hold while parsing a head. Defaults follow nginx's
// large_client_header_buffers (8 KiB per line) and HAProxy's tune.bufsize-sized heads.
struct HeadLimits {
  size_t max_request_line = 8 * 1024;  // longer: 414 URI Too Long
  size_t max_head = 32 * 1024;         // longer: 431 Request Header Fields Too Large
  size_t max_headers = 100;            // more fields: 431
};

}  // namespace outrigger::http
