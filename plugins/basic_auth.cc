// basic_auth: a request must carry `Authorization: Basic` credentials of a user in the
// route's users file (config/htpasswd.h); else 401 with WWW-Authenticate. The password is
// checked off the loop (store/password_checker.h) and, once it matched, remembered per
// worker. The client's Authorization is not forwarded unless `forward_authorization`: the
// backend has no use for a password it did not check.
//
// A user not in the file is refused at once, without a check: the time it takes tells a
// client which names exist (nginx's auth_basic does the same).
#include <absl/container/flat_hash_map.h>
#include <absl/strings/escaping.h>
#include <fmt/format.h>

#include "plugins/builtin.h"
#include "plugins/store/stores.h"
#include "proxy/http/fields.h"

namespace outrigger::plugins {
namespace {

// `Basic TOKEN`'s user and password, decoded into `scratch`; false when it is not one.
bool ParseBasic(std::string_view value, std::string* scratch, std::string_view* user,
                std::string_view* password) {
  constexpr std::string_view kScheme = "basic";
  if (value.size() <= kScheme.size() || !http::EqualsIgnoreCase(value.substr(0, 5), kScheme) ||
      value[5] != ' ') {
    return false;
  }
  value.remove_prefix(6);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty() ||
      !absl::Base64Unescape(absl::string_view(value.data(), value.size()), scratch))
    return false;
  const size_t colon = scratch->find(':');
  if (colon == std::string::npos || colon == 0) return false;
  *user = std::string_view(*scratch).substr(0, colon);
  *password = std::string_view(*scratch).substr(colon + 1);
  return true;
}

class BasicAuth final : public Plugin {
 public:
  BasicAuth(const config::BasicAuthPluginConfig& c, ActionIds& ids)
      : denied_(ids.Id("basic_auth", "denied")),
        busy_(ids.Id("basic_auth", "busy")),
        challenge_(fmt::format("Basic realm=\"{}\", charset=\"UTF-8\"", c.realm)),
        forward_(c.forward_authorization) {
    for (const config::HtpasswdUser& u : c.users) users_.emplace(u.name, u.hash);
  }

  uint8_t later_phases() const override { return 0; }  // the request phase only
  Verdict OnRequest(Context& ctx) const override {
    const http::Header* auth = nullptr;
    for (const http::Header& h : ctx.request().headers) {
      if (!http::EqualsIgnoreCase(h.name, "authorization")) continue;
      if (auth != nullptr) return Deny(ctx);  // two: which one would the backend believe?
      auth = &h;
    }
    std::string_view user, password;
    if (auth == nullptr || !ParseBasic(auth->value, &ctx.NewString(), &user, &password)) {
      return Deny(ctx);
    }
    const auto it = users_.find(absl::string_view(user.data(), user.size()));
    // crypt(3) reads a password up to its first NUL: "secret\0anything" would pass as "secret".
    if (it == users_.end() || password.find('\0') != std::string_view::npos) return Deny(ctx);
    switch (ctx.stores().passwords().Check(password, it->second, &ctx.wait())) {
      case PasswordChecker::Result::kMatch:
        return Pass(ctx);
      case PasswordChecker::Result::kPending:
        return Verdict::kPending;
      case PasswordChecker::Result::kBusy:
        break;
    }
    ctx.Count(busy_);
    LocalAnswer& answer = ctx.Answer(503);
    answer.content_type = "text/plain; charset=utf-8";
    answer.body = "503 Service Unavailable: too many password checks at once\n";
    answer.headers.push_back({"Retry-After", "1"});
    return Verdict::kAnswered;
  }

  Verdict OnResume(Context& ctx) const override {
    return ctx.wait().reply().allowed ? Pass(ctx) : Deny(ctx);
  }

 private:
  Verdict Pass(Context& ctx) const {
    if (!forward_) ctx.request_edits().remove.push_back("Authorization");
    return Verdict::kContinue;
  }

  Verdict Deny(Context& ctx) const {
    ctx.Count(denied_);
    LocalAnswer& answer = ctx.Answer(401);
    answer.content_type = "text/plain; charset=utf-8";
    answer.body = "401 Unauthorized\n";
    answer.headers.push_back({"WWW-Authenticate", challenge_});
    return Verdict::kAnswered;
  }

  const uint32_t denied_;
  const uint32_t busy_;
  const std::string challenge_;
  const bool forward_;
  absl::flat_hash_map<std::string, std::string> users_;
};

}  // namespace

std::unique_ptr<Plugin> Make(const config::BasicAuthPluginConfig& c, ActionIds& ids) {
  return std::make_unique<BasicAuth>(c, ids);
}

}  // namespace outrigger::plugins
