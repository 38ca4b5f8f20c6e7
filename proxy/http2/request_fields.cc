#include "proxy/http2/request_fields.h"

#include "proxy/http/fields.h"
#include "proxy/http/request_parser.h"

namespace outrigger::http2 {
namespace {

using http::ParseResult;
using http::fields::NameIs;

// RFC 7541 §4.1: what a field counts towards SETTINGS_MAX_HEADER_LIST_SIZE.
constexpr size_t kFieldOverhead = 32;

bool IsLowercaseName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!http::fields::IsTokenChar(c) || (c >= 'A' && c <= 'Z')) return false;
  }
  return true;
}

bool IsValidValue(std::string_view value) {
  if (value.empty()) return true;
  if (http::fields::IsOws(value.front()) || http::fields::IsOws(value.back())) return false;
  return http::fields::ScanFieldValue(value.data(), value.data() + value.size()) ==
         value.data() + value.size();
}

// RFC 9113 §8.2.2: fields that only mean something to one HTTP/1.1 connection.
bool IsConnectionSpecific(std::string_view name) {
  switch (name.size()) {
    case 7:
      return name == "upgrade";
    case 10:
      return name == "connection" || name == "keep-alive";
    case 16:
      return name == "proxy-connection";
    case 17:
      return name == "transfer-encoding";
    default:
      return false;
  }
}

struct Pseudo {
  std::string_view method, scheme, authority, path;
  bool has_method = false, has_scheme = false, has_authority = false, has_path = false;
};

// One pseudo-field into `p`; an error for an unknown or repeated one.
ParseResult TakePseudo(std::string_view name, std::string_view value, Pseudo* p) {
  std::string_view* slot;
  bool* seen;
  if (name == ":method") {
    slot = &p->method, seen = &p->has_method;
  } else if (name == ":scheme") {
    slot = &p->scheme, seen = &p->has_scheme;
  } else if (name == ":authority") {
    slot = &p->authority, seen = &p->has_authority;
  } else if (name == ":path") {
    slot = &p->path, seen = &p->has_path;
  } else {
    return ParseResult::Error(400, "unknown pseudo-header field");
  }
  if (*seen) return ParseResult::Error(400, "repeated pseudo-header field");
  *seen = true;
  *slot = value;
  return ParseResult::Done();
}

// The request line's parts from the pseudo-fields (RFC 9113 §8.3.1).
ParseResult ApplyPseudo(const Pseudo& p, http::RequestHead* out) {
  if (!p.has_method || !http::fields::IsToken(p.method)) {
    return ParseResult::Error(400, "missing or invalid :method");
  }
  out->method_text = p.method;
  out->method = http::MethodFromText(p.method);
  if (out->method == http::Method::kConnect) {
    if (p.has_scheme || p.has_path) return ParseResult::Error(400, "CONNECT with :scheme or :path");
    if (!p.has_authority) return ParseResult::Error(400, "CONNECT without :authority");
    out->target = out->path = p.authority;
    return ParseResult::Done();
  }
  if (!p.has_scheme || p.scheme.empty()) return ParseResult::Error(400, "missing :scheme");
  if (!p.has_path || p.path.empty()) return ParseResult::Error(400, "missing :path");
  if (p.path == "*") {
    if (out->method != http::Method::kOptions) {
      return ParseResult::Error(400, "'*' target requires OPTIONS");
    }
  } else if (p.path.front() != '/') {
    return ParseResult::Error(400, "invalid :path");
  }
  for (char c : p.path) {
    // As the HTTP/1.1 parser: no controls, spaces or bytes >= 0x7f in a target.
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return ParseResult::Error(400, "invalid :path");
    }
  }
  out->target = out->path = p.path;
  return ParseResult::Done();
}

}  // namespace

RequestFields::Span RequestFields::Append(std::string_view s) {
  const Span span{static_cast<uint32_t>(bytes_.size()), static_cast<uint32_t>(s.size())};
  bytes_.append(s);
  return span;
}

bool RequestFields::Add(std::string_view name, std::string_view value) {
  if (over_limit_) return false;
  list_size_ += name.size() + value.size() + kFieldOverhead;
  if (fields_.size() == limits_.max_fields || list_size_ > limits_.max_list_size) {
    over_limit_ = true;
    return false;
  }
  const Span n = Append(name);
  fields_.push_back({n, Append(value)});
  return true;
}

void RequestFields::Clear() {
  bytes_.clear();
  fields_.clear();
  list_size_ = 0;
  over_limit_ = false;
}

http::ParseResult RequestFields::Finish(bool end_stream, http::RequestHead* out) {
  http::fields::ResetHeadKeepingCapacity(out);
  if (over_limit_) return ParseResult::Error(431, "header list too large");

  // Cookies are joined at the end of the bytes, so every view is taken after the last append.
  size_t cookies = 0;
  for (const Field& f : fields_) cookies += View(f.name) == "cookie";
  Span joined_cookie{0, 0};
  if (cookies > 1) {
    const size_t start = bytes_.size();
    for (const Field& f : fields_) {
      if (View(f.name) != "cookie") continue;
      if (bytes_.size() != start) bytes_.append("; ");
      bytes_.append(View(f.value));
    }
    joined_cookie = {static_cast<uint32_t>(start), static_cast<uint32_t>(bytes_.size() - start)};
  }

  Pseudo pseudo;
  std::string_view host;
  bool has_host = false, regular_seen = false, cookie_done = false;
  uint64_t length = 0;
  bool has_length = false;
  for (const Field& f : fields_) {
    const std::string_view name = View(f.name), value = View(f.value);
    if (!name.empty() && name.front() == ':') {
      if (regular_seen) return ParseResult::Error(400, "pseudo-header field after a regular one");
      if (!IsValidValue(value)) return ParseResult::Error(400, "invalid pseudo-header value");
      ParseResult taken = TakePseudo(name, value, &pseudo);
      if (taken.status != http::ParseStatus::kDone) return taken;
      continue;
    }
    regular_seen = true;
    if (!IsLowercaseName(name)) return ParseResult::Error(400, "invalid field name");
    if (!IsValidValue(value)) return ParseResult::Error(400, "invalid field value");
    if (IsConnectionSpecific(name)) return ParseResult::Error(400, "connection-specific field");
    if (name == "te") {
      if (!NameIs(value, "trailers")) return ParseResult::Error(400, "TE other than trailers");
    } else if (name == "host") {
      if (has_host) return ParseResult::Error(400, "multiple Host fields");
      has_host = true;
      host = value;
    } else if (name == "content-length") {
      uint64_t n;
      if (!http::fields::ParseContentLength(value, &n)) {
        return ParseResult::Error(400, "invalid Content-Length");
      }
      if (has_length && n != length) {
        return ParseResult::Error(400, "conflicting Content-Length values");
      }
      has_length = true;
      length = n;
    } else if (name == "expect") {
      out->expect_continue = NameIs(value, "100-continue");
    } else if (name == "cookie" && cookies > 1) {
      if (cookie_done) continue;
      cookie_done = true;
      out->headers.push_back({name, View(joined_cookie)});
      continue;
    }
    out->headers.push_back({name, value});
  }

  ParseResult line = ApplyPseudo(pseudo, out);
  if (line.status != http::ParseStatus::kDone) return line;
  if (pseudo.has_authority && has_host && pseudo.authority != host) {
    return ParseResult::Error(400, ":authority and Host differ");
  }
  out->authority = pseudo.has_authority ? pseudo.authority : host;
  if (!http::fields::IsValidHost(out->authority)) {
    return ParseResult::Error(400, "missing or invalid :authority");
  }
  if (has_length) {
    if (end_stream && length != 0) {
      return ParseResult::Error(400, "Content-Length on a request without a body");
    }
    out->body = http::BodyKind::kContentLength;
    out->content_length = length;
  } else {
    out->body = end_stream ? http::BodyKind::kNone : http::BodyKind::kChunked;
  }
  out->version_minor = 1;
  out->keep_alive = true;
  return ParseResult::Done();
}

}  // namespace outrigger::http2
