// Template: a value with variables, as the plugins `headers`, `redirect` and `respond` take
// it ("https://new.example.com$request_uri"). Parsed once at load, expanded per request.
//
// Variables: $host $path $query $request_uri $scheme $remote_addr $request_id; "${name}"
// separates a variable from a following name character; "$$" is a literal '$'. Any other
// '$' use is a load error, so a typo never reaches a client as text.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace outrigger::config {

enum class TemplateVar : uint8_t {
  kHost,        // the request's host, without its port (nginx's $host)
  kPath,        // the path as forwarded, without the query
  kQuery,       // the query, without '?' ("" when none)
  kRequestUri,  // path and query as received, normalized, before any rewrite
  kScheme,      // "http" or "https"
  kRemoteAddr,  // the client's address (after trusted_proxies)
  kRequestId,   // the request's id
};
inline constexpr size_t kTemplateVarCount = 7;

// Every variable's value for one request: views valid while it is served.
struct TemplateValues {
  std::string_view values[kTemplateVarCount];
  std::string_view Get(TemplateVar v) const { return values[static_cast<size_t>(v)]; }
  void Set(TemplateVar v, std::string_view s) { values[static_cast<size_t>(v)] = s; }
};

class Template {
 public:
  Template() = default;
  static absl::StatusOr<Template> Parse(std::string_view text);

  // True when the value has no variable: constant() is then the whole value.
  bool IsConstant() const { return vars_.empty(); }
  // Whether `v` appears in the value.
  bool Uses(TemplateVar v) const {
    return std::any_of(vars_.begin(), vars_.end(), [v](const Var& x) { return x.var == v; });
  }
  const std::string& constant() const { return text_; }
  // Appends the value for one request to `*out`.
  void Expand(const TemplateValues& values, std::string* out) const;
  // As written in the config.
  const std::string& source() const { return source_; }

 private:
  // The literal text, with each variable's position in it: text_[var.at] is where it goes.
  struct Var {
    size_t at;
    TemplateVar var;
  };
  std::string source_;
  std::string text_;
  std::vector<Var> vars_;
};

}  // namespace outrigger::config
