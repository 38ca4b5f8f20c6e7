// A basic_auth users file, as `htpasswd -B` (Apache) writes it: one `user:hash` per line,
// blank lines and `#` comments ignored. Only hashes crypt(3) checks slowly on purpose are
// taken: bcrypt ($2y$, $2b$, $2a$), SHA-crypt ($5$, $6$) and yescrypt ($y$). Apache's MD5
// ($apr1$), SHA-1 ({SHA}) and DES crypt are refused: a stolen file of them is cracked in
// minutes.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace outrigger::config {

struct HtpasswdUser {
  std::string name;
  std::string hash;
  bool operator==(const HtpasswdUser&) const = default;
};

// The users of the file at `path`, or every mistake in it ("PATH:LINE: ...", one per line).
absl::StatusOr<std::vector<HtpasswdUser>> ReadHtpasswd(const std::string& path);
// The same for the file's text.
absl::StatusOr<std::vector<HtpasswdUser>> ParseHtpasswd(const std::string& text,
                                                        const std::string& path);

}  // namespace outrigger::config
