#include "proxy/http/request_parser.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "proxy/http/fields.h"
#include "proxy/http/head_writer.h"

namespace outrigger::http {

Method MethodFromText(std::string_view m) {
  // Methods are case-sensitive (RFC 9110 §9.1): "get" is an unknown method, not GET.
  switch (m.size()) {
    case 3:
      if (m == "GET") return Method::kGet;
      if (m == "PUT") return Method::kPut;
      break;
    case 4:
      if (m == "HEAD") return Method::kHead;
      if (m == "POST") return Method::kPost;
      break;
    case 5:
      if (m == "PATCH") return Method::kPatch;
      if (m == "TRACE") return Method::kTrace;
      break;
    case 6:
      if (m == "DELETE") return Method::kDelete;
      break;
    case 7:
      if (m == "OPTIONS") return Method::kOptions;
      if (m == "CONNECT") return Method::kConnect;
      break;
    default:
      break;
  }
  return Method::kOther;
}

namespace {

using fields::FieldSummary;

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

// Sets path/authority/absolute_form from the request-target (RFC 9112 §3.2), or says why the
// target is not acceptable for the method.
ParseResult ClassifyTarget(RequestHead* out) {
  const std::string_view target = out->target;
  const bool connect = out->method == Method::kConnect;
  if (target.front() == '/') {
    if (connect) return ParseResult::Error(400, "CONNECT requires an authority-form target");
    out->path = target;
    return ParseResult::Done();
  }
  if (connect) {
    // authority-form = uri-host ":" port
    const size_t colon = target.rfind(':');
    if (colon == std::string_view::npos || colon + 1 == target.size() ||
        !fields::IsValidHost(target)) {
      return ParseResult::Error(400, "invalid CONNECT target");
    }
    out->path = target;
    return ParseResult::Done();
  }
  if (target == "*") {
    if (out->method != Method::kOptions)
      return ParseResult::Error(400, "'*' target requires OPTIONS");
    out->path = target;
    return ParseResult::Done();
  }
  size_t scheme_length;
  if (StartsWithIgnoreCase(target, "http://")) {
    scheme_length = 7;
  } else if (StartsWithIgnoreCase(target, "https://")) {
    scheme_length = 8;
  } else {
    return ParseResult::Error(400, "invalid request target");
  }
  const std::string_view rest = target.substr(scheme_length);
  const size_t authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  const std::string_view authority = rest.substr(0, authority_end);
  if (!fields::IsValidHost(authority)) {
    return ParseResult::Error(400, "invalid authority in request target");
  }
  const std::string_view path = rest.substr(authority_end);
  if (path.empty()) {
    out->path = "/";
  } else if (path.front() == '/') {
    out->path = path;
  } else {
    // "http://host?q" would need "/?q" as origin-form, which cannot be a view of the target.
    return ParseResult::Error(400, "absolute-form target without a path");
  }
  out->authority = authority;
  out->absolute_form = true;
  return ParseResult::Done();
}

ParseResult ApplyFields(const FieldSummary& s, RequestHead* out) {
  const bool http11 = out->version_minor == 1;
  if (s.host_count > 1) return ParseResult::Error(400, "multiple Host fields");
  if (s.host_count == 0 && http11) return ParseResult::Error(400, "missing Host field");
  if (s.host_count == 1 && !fields::IsValidHost(s.host)) {
    return ParseResult::Error(400, "invalid Host field");
  }
  if (!out->absolute_form) out->authority = s.host;

  // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty.
  if (s.has_transfer_encoding && !http11) {
    return ParseResult::Error(400, "Transfer-Encoding in an HTTP/1.0 request");
  }
  ParseResult framing = fields::ResolveFraming(s, &out->body);
  if (framing.status != ParseStatus::kDone) return framing;
  out->content_length = out->body == BodyKind::kContentLength ? s.content_length : 0;

  out->keep_alive = !s.connection_close && (http11 || s.connection_keep_alive);
  // Upgrade and Expect mean nothing in HTTP/1.0 (RFC 9110 §7.8, §10.1.1).
  if (http11) {
    out->expect_continue = s.expect_continue;
    if (s.connection_upgrade) {
      out->upgrade = s.upgrade;
      out->upgrade_websocket = s.upgrade_websocket;
    }
  }
  return ParseResult::Done();
}

}  // namespace

ParseResult ParseRequestHead(std::string_view data, const HeadLimits& limits, RequestHead* out) {
  fields::ResetHeadKeepingCapacity(out);
  const char* const begin = data.data();
  const char* const data_end = begin + data.size();
  const char* const end = begin + std::min(data.size(), limits.max_head);
  const auto head_starved = [&] {
    return end < data_end ? ParseResult::Error(431, "header section too large")
                          : ParseResult::Incomplete();
  };

  // RFC 9112 §2.2: ignore empty lines before the request-line (left over after a body).
  const char* p = begin;
  while (p < end && *p == '\r') {
    if (p + 1 == end) return head_starved();
    if (p[1] != '\n') return ParseResult::Error(400, "bare CR before request line");
    p += 2;
  }

  // Request line. Scanning stops at max_request_line + CRLF, so a line that has not ended
  // there is too long whether or not more bytes have arrived.
  const char* const line_start = p;
  const char* const line_limit =
      line_start + std::min(static_cast<size_t>(end - line_start), limits.max_request_line + 2);
  const auto line_starved = [&](const char* at) {
    if (static_cast<size_t>(at - line_start) > limits.max_request_line) {
      return ParseResult::Error(414, "request line too long");
    }
    return head_starved();
  };

  while (p < line_limit && fields::IsTokenChar(*p)) ++p;
  if (p == line_limit) return line_starved(p);
  if (*p != ' ' || p == line_start) return ParseResult::Error(400, "invalid method");
  out->method_text = std::string_view(line_start, static_cast<size_t>(p - line_start));
  out->method = MethodFromText(out->method_text);
  ++p;

  const char* const target_start = p;
  p = fields::ScanVisible(p, line_limit);
  if (p == line_limit) return line_starved(p);
  if (p == target_start) return ParseResult::Error(400, "empty request target");
  if (*p != ' ') return ParseResult::Error(400, "invalid character in request target");
  out->target = std::string_view(target_start, static_cast<size_t>(p - target_start));
  ++p;

  switch (fields::ParseHttpVersion(p, line_limit, &out->version_minor)) {
    case fields::VersionStatus::kNeedMore:
      return line_starved(line_limit);
    case fields::VersionStatus::kMalformed:
      return ParseResult::Error(400, "malformed HTTP version");
    case fields::VersionStatus::kUnsupported:
      return ParseResult::Error(505, "HTTP version not supported");
    case fields::VersionStatus::kOk:
      break;
  }
  p += fields::kHttpVersionLength;
  if (p == line_limit) return line_starved(p);
  if (*p != '\r') return ParseResult::Error(400, "malformed request line");
  if (static_cast<size_t>(p - line_start) > limits.max_request_line) {
    return ParseResult::Error(414, "request line too long");
  }
  if (p + 1 == line_limit) return head_starved();
  if (p[1] != '\n') return ParseResult::Error(400, "bare CR in request line");
  p += 2;

  ParseResult target_result = ClassifyTarget(out);
  if (target_result.status != ParseStatus::kDone) return target_result;

  FieldSummary summary;
  ParseResult fields_result =
      fields::ParseFieldSection(begin, data_end, limits, &p, &out->headers, &summary);
  if (fields_result.status != ParseStatus::kDone) return fields_result;
  ParseResult result = ApplyFields(summary, out);
  if (result.status != ParseStatus::kDone) return result;
  out->head_size = static_cast<size_t>(p - begin);
  return ParseResult::Done();
}

}  // namespace outrigger::http
