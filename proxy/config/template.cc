#include "proxy/config/template.h"

#include <fmt/format.h>

#include <array>
#include <utility>

namespace outrigger::config {
namespace {

constexpr std::array<std::pair<std::string_view, TemplateVar>, kTemplateVarCount> kVars = {{
    {"host", TemplateVar::kHost},
    {"path", TemplateVar::kPath},
    {"query", TemplateVar::kQuery},
    {"request_uri", TemplateVar::kRequestUri},
    {"scheme", TemplateVar::kScheme},
    {"remote_addr", TemplateVar::kRemoteAddr},
    {"request_id", TemplateVar::kRequestId},
}};

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

absl::StatusOr<Template> Template::Parse(std::string_view text) {
  Template t;
  t.source_ = std::string(text);
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '$') {
      t.text_.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      t.text_.push_back('$');
      i += 2;
      continue;
    }
    std::string_view name;
    size_t next;
    if (i + 1 < text.size() && text[i + 1] == '{') {
      const size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        return absl::InvalidArgumentError(
            fmt::format("unterminated \"${{\" at offset {} in \"{}\"", i, text));
      }
      name = text.substr(i + 2, close - i - 2);
      next = close + 1;
    } else {
      size_t end = i + 1;
      while (end < text.size() && IsNameChar(text[end])) ++end;
      name = text.substr(i + 1, end - i - 1);
      next = end;
    }
    bool known = false;
    for (const auto& [var_name, var] : kVars) {
      if (name == var_name) {
        t.vars_.push_back({t.text_.size(), var});
        known = true;
        break;
      }
    }
    if (!known) {
      return absl::InvalidArgumentError(fmt::format(
          "{} in \"{}\" (variables: $host $path $query $request_uri $scheme $remote_addr "
          "$request_id; $$ for a '$')",
          name.empty() ? std::string("a '$' with no variable name")
                       : fmt::format("unknown variable ${}", name),
          text));
    }
    i = next;
  }
  return t;
}

void Template::Expand(const TemplateValues& values, std::string* out) const {
  size_t from = 0;
  for (const Var& v : vars_) {
    out->append(text_, from, v.at - from);
    out->append(values.Get(v.var));
    from = v.at;
  }
  out->append(text_, from, std::string::npos);
}

}  // namespace outrigger::config
