#include "proxy/config/plugin_reader.h"

#include <absl/strings/str_split.h>
#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <functional>

#include "proxy/config/loader.h"
#include "proxy/http/fields.h"
#include "proxy/net/address.h"

namespace outrigger::config {
namespace {

using http::fields::NameIs;

// Fields a plugin may not touch: framing and connection management belong to the codec,
// which forwards bodies verbatim.
bool IsCodecField(std::string_view name) {
  for (std::string_view f : {"content-length", "transfer-encoding", "connection", "keep-alive",
                             "proxy-connection", "te", "trailer", "upgrade"}) {
    if (NameIs(name, f)) return true;
  }
  return false;
}

std::optional<std::string> ReadFieldName(const Field& f, bool request, bool removing,
                                         Diagnostics* diag) {
  std::string name = f.key ? f.key->Scalar() : std::string();
  if (!f.key) {
    std::optional<std::string> s = ReadString(f, diag);
    if (!s) return std::nullopt;
    name = *s;
  }
  const SourceMark at = f.key ? LocateKey(f, *diag) : LocateValue(f, *diag);
  if (!http::fields::IsToken(name)) {
    diag->Add(at, fmt::format("{}expected a header name, got \"{}\"", f.Prefix(), name));
    return std::nullopt;
  }
  if (IsCodecField(name)) {
    diag->Add(at, fmt::format("{}{} is the proxy's to write (framing and connection fields "
                              "cannot be changed by a plugin)",
                              f.Prefix(), name));
    return std::nullopt;
  }
  if (request && removing && NameIs(name, "host")) {
    diag->Add(at,
              fmt::format("{}Host cannot be removed or added to; `set` replaces it", f.Prefix()));
    return std::nullopt;
  }
  return name;
}

// A field value's forbidden bytes (RFC 9110 §5.5): control characters other than HTAB.
bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
  });
}

std::optional<Template> ReadTemplate(const Field& f, Diagnostics* diag, bool field_value) {
  std::optional<std::string> s = ReadString(f, diag);
  if (!s) return std::nullopt;
  if (field_value && HasControl(*s)) {
    diag->Add(LocateValue(f, *diag),
              fmt::format("{}a header value cannot hold control characters", f.Prefix()));
    return std::nullopt;
  }
  absl::StatusOr<Template> t = Template::Parse(*s);
  if (!t.ok()) {
    diag->Add(LocateValue(f, *diag),
              fmt::format("{}{}", f.Prefix(), std::string(t.status().message())));
    return std::nullopt;
  }
  return *std::move(t);
}

void ReadFieldMap(const Field& f, bool request, bool adding,
                  std::vector<std::pair<std::string, Template>>* out, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return;
  MapReader entries(f, {}, diag);
  for (const Field& e : entries.entries()) {
    std::optional<std::string> name = ReadFieldName(e, request, adding, diag);
    std::optional<Template> value = ReadTemplate(e, diag, /*field_value=*/true);
    if (name && value) out->emplace_back(std::move(*name), std::move(*value));
  }
}

void ReadFieldEdits(const Field& f, bool request, FieldEditsConfig* edits, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return;
  MapReader keys(f, {"set", "add", "remove"}, diag);
  if (auto set = keys.Get("set")) ReadFieldMap(*set, request, /*adding=*/false, &edits->set, diag);
  if (auto add = keys.Get("add")) ReadFieldMap(*add, request, /*adding=*/true, &edits->add, diag);
  if (auto remove = keys.Get("remove"); remove && ExpectList(*remove, diag)) {
    for (const Field& item : ListItems(*remove)) {
      if (auto name = ReadFieldName(item, request, /*removing=*/true, diag)) {
        edits->remove.push_back(std::move(*name));
      }
    }
  }
}

void ReadHeaders(const Field& f, HeadersPluginConfig* c, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return;
  MapReader keys(f, {"request", "response"}, diag);
  if (auto r = keys.Get("request")) ReadFieldEdits(*r, /*request=*/true, &c->request, diag);
  if (auto r = keys.Get("response")) ReadFieldEdits(*r, /*request=*/false, &c->response, diag);
  if (c->request.empty() && c->response.empty() && diag->empty()) {
    diag->Add(LocateKey(f, *diag),
              fmt::format("{}expected `request` and/or `response` edits", f.Prefix()));
  }
}

std::optional<std::string> ReadPathPrefix(const Field& f, Diagnostics* diag) {
  std::optional<std::string> s = ReadString(f, diag);
  if (s && s->front() != '/') {
    diag->Add(LocateValue(f, *diag),
              fmt::format("{}must start with '/', got \"{}\"", f.Prefix(), *s));
    return std::nullopt;
  }
  if (s && s->find_first_of("?# \t") != std::string::npos) {
    diag->Add(LocateValue(f, *diag),
              fmt::format("{}a path prefix cannot hold '?', '#' or spaces", f.Prefix()));
    return std::nullopt;
  }
  return s;
}

// nginx writes captures as $1; RE2's rewrite strings as \1.
std::optional<std::string> ToRe2Rewrite(const Field& f, const re2::RE2& re, Diagnostics* diag) {
  std::optional<std::string> s = ReadString(f, diag);
  if (!s) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < s->size(); ++i) {
    const char c = (*s)[i];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '$' && i + 1 < s->size() && (*s)[i + 1] >= '0' && (*s)[i + 1] <= '9') {
      out += '\\';
      out += (*s)[++i];
    } else if (c == '$' && i + 1 < s->size() && (*s)[i + 1] == '$') {
      out += '$';
      ++i;
    } else {
      out += c;
    }
  }
  if (std::any_of(s->begin(), s->end(), [](char ch) {
        return static_cast<unsigned char>(ch) <= 0x20 || static_cast<unsigned char>(ch) >= 0x7f ||
               ch == '#';
      })) {
    diag->Add(LocateValue(f, *diag),
              fmt::format("{}a path holds no spaces, control characters, '#' or non-ASCII bytes "
                          "(percent-encode them), got \"{}\"",
                          f.Prefix(), *s));
    return std::nullopt;
  }
  std::string error;
  if (!re.CheckRewriteString(out, &error)) {
    diag->Add(LocateValue(f, *diag), fmt::format("{}{}", f.Prefix(), error));
    return std::nullopt;
  }
  if (out.empty() || out.front() != '/') {
    diag->Add(LocateValue(f, *diag),
              fmt::format("{}must start with '/', got \"{}\"", f.Prefix(), *s));
    return std::nullopt;
  }
  return out;
}

void ReadRewrite(const Field& f, RewritePluginConfig* c, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return;
  MapReader keys(f, {"strip_prefix", "replace_prefix", "regex"}, diag);
  if (keys.entries().size() != 1) {
    diag->Add(LocateKey(f, *diag),
              fmt::format("{}expected exactly one of `strip_prefix`, `replace_prefix`, `regex`",
                          f.Prefix()));
    return;
  }
  const Field& e = keys.entries().front();
  const std::string kind = e.key->Scalar();
  if (kind == "strip_prefix") {
    c->kind = RewritePluginConfig::Kind::kStripPrefix;
    if (auto p = ReadPathPrefix(e, diag)) c->from = *p;
    c->to = "/";
    return;
  }
  if (!ExpectMap(e, diag)) return;
  MapReader sub(e, {kind == "regex" ? "match" : "from", "to"}, diag);
  std::optional<Field> to = sub.Require("to");
  if (kind == "replace_prefix") {
    c->kind = RewritePluginConfig::Kind::kReplacePrefix;
    if (auto from = sub.Require("from")) {
      if (auto p = ReadPathPrefix(*from, diag)) c->from = *p;
    }
    if (to) {
      if (auto p = ReadPathPrefix(*to, diag)) c->to = *p;
    }
    return;
  }
  c->kind = RewritePluginConfig::Kind::kRegex;
  std::optional<Field> match = sub.Require("match");
  if (!match) return;
  std::optional<std::string> pattern = ReadString(*match, diag);
  if (!pattern) return;
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<const re2::RE2>(*pattern, options);
  if (!re->ok()) {
    diag->Add(LocateValue(*match, *diag),
              fmt::format("{}invalid regular expression: {}", match->Prefix(), re->error()));
    return;
  }
  c->regex = re;
  if (to) {
    if (auto rewrite = ToRe2Rewrite(*to, *re, diag)) c->to = *rewrite;
  }
}

void ReadRedirect(const Field& f, RedirectPluginConfig* c, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return;
  MapReader keys(f, {"to", "status"}, diag);
  if (auto to = keys.Require("to")) {
    if (auto t = ReadTemplate(*to, diag, /*field_value=*/true)) c->to = std::move(*t);
  }
  if (auto status = keys.Get("status")) {
    if (auto n = ReadInteger(*status, 0, 999, diag)) {
      if (*n != 301 && *n != 302 && *n != 303 && *n != 307 && *n != 308) {
        diag->Add(
            LocateValue(*status, *diag),
            fmt::format("{}expected 301, 302, 303, 307 or 308, got {}", status->Prefix(), *n));
      } else {
        c->status = static_cast<int>(*n);
      }
    }
  }
}

void ReadRespond(const Field& f, RespondPluginConfig* c, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return;
  MapReader keys(f, {"status", "body", "content_type"}, diag);
  if (auto status = keys.Get("status")) {
    if (auto n = ReadInteger(*status, 200, 599, diag)) c->status = static_cast<int>(*n);
  }
  if (auto body = keys.Get("body")) {
    if (auto t = ReadTemplate(*body, diag, /*field_value=*/false)) c->body = std::move(*t);
    if (c->status == 204 || c->status == 304) {
      diag->Add(LocateValue(*body, *diag),
                fmt::format("{}a {} response has no body", body->Prefix(), c->status));
    }
  }
  if (auto type = keys.Get("content_type")) {
    if (auto t = ReadString(*type, diag)) {
      if (HasControl(*t)) {
        diag->Add(LocateValue(*type, *diag),
                  fmt::format("{}a header value cannot hold control characters", type->Prefix()));
      } else {
        c->content_type = *t;
      }
    }
  }
}

void ReadCidrList(const Field& f, std::vector<net::Cidr>* out, Diagnostics* diag) {
  if (!ExpectList(f, diag)) return;
  for (const Field& item : ListItems(f)) {
    std::optional<std::string> text = ReadString(item, diag);
    if (!text) continue;
    absl::StatusOr<net::Cidr> cidr = net::ParseCidr(*text);
    if (!cidr.ok()) {
      diag->Add(LocateValue(item, *diag),
                fmt::format("{}{}", item.Prefix(), std::string(cidr.status().message())));
      continue;
    }
    out->push_back(*cidr);
  }
}

void ReadIpFilter(const Field& f, IpFilterPluginConfig* c, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return;
  MapReader keys(f, {"allow", "deny"}, diag);
  if (auto allow = keys.Get("allow")) {
    ReadCidrList(*allow, &c->allow, diag);
    if (c->allow.empty() && allow->value.IsSequence() && allow->value.size() == 0) {
      diag->Add(LocateValue(*allow, *diag),
                fmt::format("{}an empty list would allow every client; leave `allow` out to "
                            "allow all but `deny`",
                            allow->Prefix()));
    }
  }
  if (auto deny = keys.Get("deny")) ReadCidrList(*deny, &c->deny, diag);
  if (keys.empty()) {
    diag->Add(LocateKey(f, *diag), fmt::format("{}expected `allow` and/or `deny`", f.Prefix()));
  }
}

// `rate`: "N/s", "N/m", "N/h" or "N/<duration>" ("100/15m").
bool ParseRate(std::string_view text, RateLimitPluginConfig* c) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + slash, n);
  if (ec != std::errc() || end != text.data() + slash || n == 0 || n > 1'000'000'000) return false;
  std::string_view per = text.substr(slash + 1);
  std::string unit(per);
  if (per == "s" || per == "m" || per == "h") unit = "1" + unit;
  absl::StatusOr<Duration> d = ParseDuration(unit);
  if (!d.ok() || d->count() == 0) return false;
  c->count = n;
  c->period = *d;
  return true;
}

// `store`, `store_timeout`, `on_store_error`, `zone` (the loader defaults the zone).
void ReadRateLimitStore(MapReader& keys, RateLimitPluginConfig* c, Diagnostics* diag) {
  const std::optional<Field> store = keys.Get("store");
  if (store) {
    if (auto s = ReadString(*store, diag)) {
      std::string_view url = *s;
      absl::Status ok = absl::InvalidArgumentError("");
      if (url.starts_with("redis://")) {
        url.remove_prefix(8);
        if (url.ends_with('/')) url.remove_suffix(1);
        ok = net::SplitHostPort(url, &c->store_host, &c->store_port);
      }
      if (!ok.ok() || c->store_host.empty() || c->store_port == 0) {
        c->store_host.clear();
        diag->Add(LocateValue(*store, *diag),
                  fmt::format("{}expected \"redis://HOST:PORT\", got \"{}\"", store->Prefix(), *s));
      }
    }
  }
  for (const char* key : {"store_timeout", "on_store_error", "zone"}) {
    if (const std::optional<Field> f = keys.Get(key); f && !store) {
      diag->Add(LocateKey(*f, *diag), fmt::format("{}only applies with `store`", f->Prefix()));
    }
  }
  if (auto t = keys.Get("store_timeout")) {
    if (auto d = ReadDuration(*t, /*allow_zero=*/false, diag)) {
      if (*d > std::chrono::seconds(10)) {
        diag->Add(
            LocateValue(*t, *diag),
            fmt::format("{}at most 10s: a request waits this long for its store", t->Prefix()));
      } else {
        c->store_timeout = *d;
      }
    }
  }
  if (auto on = keys.Get("on_store_error")) {
    if (auto s = ReadString(*on, diag)) {
      if (*s == "allow" || *s == "deny") {
        c->deny_on_store_error = *s == "deny";
      } else {
        diag->Add(LocateValue(*on, *diag),
                  fmt::format("{}expected `allow` or `deny`, got \"{}\"", on->Prefix(), *s));
      }
    }
  }
  if (auto zone = keys.Get("zone")) {
    if (auto s = ReadString(*zone, diag)) {
      if (s->empty() || s->size() > 200 ||
          std::any_of(s->begin(), s->end(), [](char ch) { return ch <= ' ' || ch == 0x7f; })) {
        diag->Add(LocateValue(*zone, *diag),
                  fmt::format("{}expected 1 to 200 visible characters", zone->Prefix()));
      } else {
        c->zone = *s;
      }
    }
  }
}

void ReadRateLimit(const Field& f, RateLimitPluginConfig* c, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return;
  MapReader keys(f,
                 {"key", "rate", "burst", "max_keys", "headers", "store", "store_timeout",
                  "on_store_error", "zone"},
                 diag);
  if (auto key = keys.Get("key")) {
    if (auto s = ReadString(*key, diag)) {
      c->key_text = *s;
      if (*s == "client_ip") {
        c->key = RateLimitPluginConfig::Key::kClientIp;
      } else if (*s == "route") {
        c->key = RateLimitPluginConfig::Key::kRoute;
      } else if (s->starts_with("header:") && http::fields::IsToken(s->substr(7))) {
        c->key = RateLimitPluginConfig::Key::kHeader;
        c->header = s->substr(7);
      } else {
        diag->Add(LocateValue(*key, *diag),
                  fmt::format("{}expected `client_ip`, `header:NAME` or `route`, got \"{}\"",
                              key->Prefix(), *s));
      }
    }
  }
  if (auto rate = keys.Require("rate")) {
    if (auto s = ReadString(*rate, diag)) {
      if (!ParseRate(*s, c)) {
        diag->Add(LocateValue(*rate, *diag),
                  fmt::format("{}expected N/s, N/m, N/h or N/DURATION (\"100/15m\"), got \"{}\"",
                              rate->Prefix(), *s));
      } else if (std::chrono::duration_cast<std::chrono::nanoseconds>(c->period).count() /
                     static_cast<int64_t>(c->count) <
                 1000) {
        diag->Add(
            LocateValue(*rate, *diag),
            fmt::format("{}at most 1000000 requests per second, got \"{}\"", rate->Prefix(), *s));
      }
    }
  }
  c->burst = static_cast<uint32_t>(std::min<uint64_t>(c->count, 1'000'000));
  if (auto burst = keys.Get("burst")) {
    if (auto n = ReadInteger(*burst, 1, 1'000'000, diag)) c->burst = *n;
  }
  // The table keeps 48 bits of microseconds (gcra_table.h): a bucket must refill within a
  // year, which also keeps (burst - 1) * interval far from overflowing.
  if (c->count > 0 && c->period.count() > 0) {
    const double refill_ms =
        static_cast<double>(c->period.count()) * c->burst / static_cast<double>(c->count);
    if (refill_ms > 365.0 * 24 * 3600 * 1000) {
      diag->Add(LocateKey(f, *diag),
                fmt::format("{}burst {} takes {:.0f} days to refill at this rate: at most 365 "
                            "(a limit must come back within a year)",
                            f.Prefix(), c->burst, refill_ms / (24.0 * 3600 * 1000)));
    }
  }
  if (auto max_keys = keys.Get("max_keys")) {
    if (auto n = ReadInteger(*max_keys, 1, 100'000'000, diag)) c->max_keys = *n;
  }
  if (auto headers = keys.Get("headers")) {
    if (auto b = ReadBool(*headers, diag)) c->headers = *b;
  }
  ReadRateLimitStore(keys, c, diag);
}

// A list of tokens (methods, field names) joined as a field value: "GET, POST".
std::optional<std::string> ReadTokenList(const Field& f, Diagnostics* diag) {
  if (!ExpectList(f, diag)) return std::nullopt;
  std::string joined;
  for (const Field& item : ListItems(f)) {
    std::optional<std::string> s = ReadString(item, diag);
    if (!s) continue;
    if (!http::fields::IsToken(*s)) {
      diag->Add(LocateValue(item, *diag),
                fmt::format("{}expected a method or header name, got \"{}\"", item.Prefix(), *s));
      continue;
    }
    if (!joined.empty()) joined += ", ";
    joined += *s;
  }
  return joined;
}

void ReadCors(const Field& f, CorsPluginConfig* c, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return;
  MapReader keys(f, {"origins", "methods", "headers", "expose", "credentials", "max_age"}, diag);
  if (auto origins = keys.Require("origins"); origins && ExpectList(*origins, diag)) {
    for (const Field& item : ListItems(*origins)) {
      std::optional<std::string> s = ReadString(item, diag);
      if (!s) continue;
      if (*s == "*") {
        c->any_origin = true;
        continue;
      }
      std::string lower = *s;
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      const size_t scheme_end = lower.find("://");
      const bool ok = (lower.starts_with("http://") || lower.starts_with("https://")) &&
                      scheme_end + 3 < lower.size() &&
                      lower.find_first_of("/?# ", scheme_end + 3) == std::string::npos;
      if (!ok) {
        diag->Add(LocateValue(item, *diag),
                  fmt::format("{}expected \"*\" or an origin as browsers send it "
                              "(\"https://app.example.com\", no path), got \"{}\"",
                              item.Prefix(), *s));
        continue;
      }
      c->origins.push_back(std::move(lower));
    }
    if (!c->any_origin && c->origins.empty() && ListItems(*origins).empty()) {
      diag->Add(LocateValue(*origins, *diag),
                fmt::format("{}expected at least one origin", origins->Prefix()));
    }
  }
  if (auto methods = keys.Get("methods")) {
    if (auto m = ReadTokenList(*methods, diag)) c->methods = *m;
  }
  if (auto headers = keys.Get("headers")) {
    if (auto h = ReadTokenList(*headers, diag)) c->headers = *h;
  }
  if (auto expose = keys.Get("expose")) {
    if (auto h = ReadTokenList(*expose, diag)) c->expose = *h;
  }
  if (auto credentials = keys.Get("credentials")) {
    if (auto b = ReadBool(*credentials, diag)) c->credentials = *b;
    if (c->credentials && c->any_origin) {
      diag->Add(LocateValue(*credentials, *diag),
                fmt::format("{}browsers refuse credentials with origin \"*\": list the origins",
                            credentials->Prefix()));
    }
  }
  if (auto max_age = keys.Get("max_age")) {
    if (auto d = ReadDuration(*max_age, /*allow_zero=*/true, diag)) c->max_age = *d;
  }
}

void ReadBasicAuth(const Field& f, BasicAuthPluginConfig* c, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return;
  MapReader keys(f, {"users_file", "realm", "forward_authorization"}, diag);
  if (auto file = keys.Require("users_file")) {
    if (auto s = ReadString(*file, diag)) {
      c->users_file = ResolvePath(*s, diag->file());
      absl::StatusOr<std::vector<HtpasswdUser>> users = ReadHtpasswd(c->users_file);
      if (users.ok()) {
        c->users = *std::move(users);
      } else {
        for (absl::string_view line : absl::StrSplit(users.status().message(), '\n')) {
          diag->Add(LocateValue(*file, *diag),
                    fmt::format("{}{}", file->Prefix(), std::string(line)));
        }
      }
    }
  }
  if (auto realm = keys.Get("realm")) {
    if (auto s = ReadString(*realm, diag)) {
      // Sent as a quoted-string: no quote, backslash or control character to escape.
      if (s->empty() || std::any_of(s->begin(), s->end(), [](char ch) {
            return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f || ch == '"' || ch == '\\';
          })) {
        diag->Add(LocateValue(*realm, *diag),
                  fmt::format("{}expected visible text without '\"' or '\\'", realm->Prefix()));
      } else {
        c->realm = *s;
      }
    }
  }
  if (auto fwd = keys.Get("forward_authorization")) {
    if (auto b = ReadBool(*fwd, diag)) c->forward_authorization = *b;
  }
}

void ReadCompress(const Field& f, CompressPluginConfig* c, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return;
  MapReader keys(f, {"encodings", "types", "min_size", "gzip_level", "brotli_quality"}, diag);
  if (auto encodings = keys.Get("encodings"); encodings && ExpectList(*encodings, diag)) {
    c->encodings.clear();
    for (const Field& item : ListItems(*encodings)) {
      std::optional<std::string> s = ReadString(item, diag);
      if (!s) continue;
      if (*s != "gzip" && *s != "br") {
        diag->Add(LocateValue(item, *diag),
                  fmt::format("{}expected gzip or br, got \"{}\"", item.Prefix(), *s));
      } else if (std::find(c->encodings.begin(), c->encodings.end(), *s) != c->encodings.end()) {
        diag->Add(LocateValue(item, *diag), fmt::format("{}{} is listed twice", item.Prefix(), *s));
      } else {
        c->encodings.push_back(*s);
      }
    }
    if (ListItems(*encodings).empty()) {
      diag->Add(LocateValue(*encodings, *diag),
                fmt::format("{}expected at least one of gzip, br", encodings->Prefix()));
    }
  }
  if (auto types = keys.Get("types"); types && ExpectList(*types, diag)) {
    c->types.clear();
    for (const Field& item : ListItems(*types)) {
      std::optional<std::string> s = ReadString(item, diag);
      if (!s) continue;
      std::string lower = *s;
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      const size_t slash = lower.find('/');
      const bool ok =
          slash != std::string::npos && slash > 0 && slash + 1 < lower.size() &&
          http::fields::IsToken(lower.substr(0, slash)) && lower[0] != '*' &&
          (lower.substr(slash + 1) == "*" || http::fields::IsToken(lower.substr(slash + 1)));
      if (!ok) {
        diag->Add(LocateValue(item, *diag),
                  fmt::format("{}expected a media type (\"text/html\", \"text/*\"), got \"{}\"",
                              item.Prefix(), *s));
        continue;
      }
      c->types.push_back(std::move(lower));
    }
  }
  if (auto min_size = keys.Get("min_size")) {
    if (auto n = ReadByteSize(*min_size, diag)) c->min_size = *n;
  }
  if (auto level = keys.Get("gzip_level")) {
    if (auto n = ReadInteger(*level, 1, 9, diag)) c->gzip_level = static_cast<int>(*n);
  }
  if (auto quality = keys.Get("brotli_quality")) {
    if (auto n = ReadInteger(*quality, 0, 11, diag)) c->brotli_quality = static_cast<int>(*n);
  }
}

// The plugin table: every name a route's `plugins` list takes, with its reader.
template <typename C>
using Reader = void (*)(const Field&, C*, Diagnostics*);
struct Entry {
  std::string_view name;
  std::function<void(const Field&, PluginConfig*, Diagnostics*)> read;
};
template <typename C>
Entry Make(std::string_view name, Reader<C> reader) {
  return {name, [reader](const Field& f, PluginConfig* p, Diagnostics* d) {
            reader(f, &p->spec.emplace<C>(), d);
          }};
}

const std::array<Entry, 9>& Table() {
  static const std::array<Entry, 9> table = {
      Make<HeadersPluginConfig>("headers", ReadHeaders),
      Make<RewritePluginConfig>("rewrite", ReadRewrite),
      Make<RedirectPluginConfig>("redirect", ReadRedirect),
      Make<RespondPluginConfig>("respond", ReadRespond),
      Make<IpFilterPluginConfig>("ip_filter", ReadIpFilter),
      Make<RateLimitPluginConfig>("rate_limit", ReadRateLimit),
      Make<CorsPluginConfig>("cors", ReadCors),
      Make<BasicAuthPluginConfig>("basic_auth", ReadBasicAuth),
      Make<CompressPluginConfig>("compress", ReadCompress),
  };
  return table;
}

}  // namespace

void ReadPlugins(const Field& f, std::vector<PluginConfig>* plugins, Diagnostics* diag) {
  if (!ExpectList(f, diag)) return;
  std::vector<std::string_view> names;
  for (const Entry& e : Table()) names.push_back(e.name);
  for (const Field& item : ListItems(f)) {
    if (!ExpectMap(item, diag)) continue;
    MapReader one(item, names, diag);
    if (one.entries().size() != 1) {
      if (!one.empty()) {
        diag->Add(LocateValue(item, *diag),
                  fmt::format("{}one plugin per list item (`- headers: ...`, then `- rewrite: "
                              "...`), got {}",
                              item.Prefix(), one.entries().size()));
      } else if (item.value.size() == 0) {
        diag->Add(LocateValue(item, *diag),
                  fmt::format("{}expected a plugin: {}", item.Prefix(), JoinNames(names)));
      }
      continue;
    }
    const Field& e = one.entries().front();
    // One encoder per response: a second compress could only add a second Vary.
    if (e.key->Scalar() == "compress" &&
        std::any_of(plugins->begin(), plugins->end(),
                    [](const PluginConfig& p) { return p.name == "compress"; })) {
      diag->Add(LocateKey(e, *diag),
                fmt::format("{}compress is already on this route: list it once", e.Prefix()));
      continue;
    }
    PluginConfig& p = plugins->emplace_back();
    p.name = e.key->Scalar();
    for (const Entry& entry : Table()) {
      if (entry.name == p.name) entry.read(e, &p, diag);
    }
  }
}

}  // namespace outrigger::config
