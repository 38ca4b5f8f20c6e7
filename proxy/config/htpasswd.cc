#include "proxy/config/htpasswd.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace outrigger::config {
namespace {

bool IsB64(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '/';
  });
}

// The hash's shape as crypt(3) writes it (a wrong one could never match: better said at load
// than as a 401 for a user whose password is right). Checked by hand: crypt_checksalt
// looks at the setting only, and refuses a whole SHA-crypt hash.
bool WellFormed(std::string_view hash) {
  if (hash.starts_with("$2")) {  // $2b$NN$ + 22 salt + 31 hash
    return hash.size() == 60 && hash[3] == '$' && hash[6] == '$' &&
           std::isdigit(static_cast<unsigned char>(hash[4])) &&
           std::isdigit(static_cast<unsigned char>(hash[5])) &&
           (hash[4] - '0') * 10 + (hash[5] - '0') >= 4 &&
           (hash[4] - '0') * 10 + (hash[5] - '0') <= 31 && IsB64(hash.substr(7));
  }
  std::vector<std::string_view> parts;
  for (std::string_view rest = hash.substr(1);;) {
    const size_t dollar = rest.find('$');
    parts.push_back(rest.substr(0, dollar));
    if (dollar == std::string_view::npos) break;
    rest.remove_prefix(dollar + 1);
  }
  if (hash.starts_with("$5$") || hash.starts_with("$6$")) {  // $5$[rounds=N$]salt$hash
    if (parts.size() == 4 && parts[1].starts_with("rounds=")) parts.erase(parts.begin() + 1);
    const size_t digest = hash[1] == '5' ? 43 : 86;
    return parts.size() == 3 && !parts[1].empty() && parts[1].size() <= 16 &&
           parts[2].size() == digest && IsB64(parts[2]);
  }
  // $y$params$salt$hash
  return parts.size() == 4 && IsB64(parts[1]) && IsB64(parts[2]) && IsB64(parts[3]);
}

// A hash of a scheme we accept, well formed; else why not.
std::string HashProblem(const std::string& hash) {
  const bool slow = hash.starts_with("$2y$") || hash.starts_with("$2b$") ||
                    hash.starts_with("$2a$") || hash.starts_with("$5$") ||
                    hash.starts_with("$6$") || hash.starts_with("$y$");
  if (!slow) {
    if (hash.starts_with("$apr1$") || hash.starts_with("$1$")) return "an MD5 hash";
    if (hash.starts_with("{SHA}")) return "a SHA-1 hash";
    return "not a bcrypt, SHA-crypt or yescrypt hash";
  }
  if (!WellFormed(hash)) return "a malformed hash";
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
