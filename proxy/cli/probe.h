// `outrigger probe URL`: one blocking HTTP/1.1 GET, for a container HEALTHCHECK where the
// image has no curl. Exit status 0 when the answer's status is 2xx; otherwise 1 with the
// reason on stderr (connect error, timeout, non-2xx status, garbled answer); 2 on bad usage.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace outrigger::cli {

struct ProbeTarget {
  std::string host;         // as written in the URL (an IPv6 literal without its brackets)
  std::string port;         // "80" when the URL names none
  std::string path;         // "/" when the URL names none; the query is kept
  std::string host_header;  // authority as written, for the Host field
};

// Only http:// (a probe of the local admin listener needs no TLS); userinfo is refused.
absl::StatusOr<ProbeTarget> ParseProbeUrl(std::string_view url);

// The status code of the answer to GET target, all within `timeout` (resolve, connect,
// send, read the status line), or why there is none.
absl::StatusOr<int> ProbeOnce(const ProbeTarget& target, std::chrono::milliseconds timeout);

// argv[0] is "probe". Returns the process exit status.
int ProbeMain(int argc, char** argv);

}  // namespace outrigger::cli
