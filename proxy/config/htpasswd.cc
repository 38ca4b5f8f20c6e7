#include "proxy/config/htpasswd.h"

#include <crypt.h>
#include <fmt/format.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

#include "absl/status/status.h"

namespace outrigger::config {
namespace {

// A hash of a scheme we accept, well formed as crypt(3) sees it; else why not.
std::string HashProblem(const std::string& hash) {
  const bool slow = hash.starts_with("$2y$") || hash.starts_with("$2b$") ||
                    hash.starts_with("$2a$") || hash.starts_with("$5$") ||
                    hash.starts_with("$6$") || hash.starts_with("$y$");
  if (!slow) {
    if (hash.starts_with("$apr1$") || hash.starts_with("$1$")) return "an MD5 hash";
    if (hash.starts_with("{SHA}")) return "a SHA-1 hash";
    return "not a bcrypt, SHA-crypt or yescrypt hash";
  }
  if (crypt_checksalt(hash.c_str()) != CRYPT_SALT_OK) return "a malformed hash";
  return {};
}

}  // namespace

absl::StatusOr<std::vector<HtpasswdUser>> ParseHtpasswd(const std::string& text,
                                                        const std::string& path) {
  std::vector<HtpasswdUser> users;
  std::vector<std::string> errors;
  std::set<std::string, std::less<>> seen;
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      errors.push_back(fmt::format("{}:{}: expected `user:hash`", path, n));
      continue;
    }
    HtpasswdUser u{line.substr(0, colon), line.substr(colon + 1)};
    if (const std::string why = HashProblem(u.hash); !why.empty()) {
      errors.push_back(fmt::format(
          "{}:{}: user \"{}\": {}; write bcrypt (`htpasswd -B`) or SHA-crypt (`openssl passwd "
          "-6`) hashes",
          path, n, u.name, why));
      continue;
    }
    if (!seen.insert(u.name).second) {
      errors.push_back(fmt::format("{}:{}: user \"{}\" again", path, n, u.name));
      continue;
    }
    users.push_back(std::move(u));
  }
  if (!errors.empty()) {
    std::string all;
    for (const std::string& e : errors) all += (all.empty() ? "" : "\n") + e;
    return absl::InvalidArgumentError(all);
  }
  if (users.empty()) return absl::InvalidArgumentError(fmt::format("{}: no users", path));
  return users;
}

absl::StatusOr<std::vector<HtpasswdUser>> ReadHtpasswd(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(fmt::format("{}: cannot be read", path));
  std::ostringstream text;
  text << f.rdbuf();
  return ParseHtpasswd(text.str(), path);
}

}  // namespace outrigger::config
