#include "proxy/http/response_parser.h"

#include <algorithm>
#include <utility>

#include "proxy/http/fields.h"

namespace outrigger::http {
namespace {

// Every upstream protocol error is the client's 502; the reason still says which rule broke.
ParseResult UpstreamError(std::string_view why) { return ParseResult::Error(502, why); }

ParseResult ParseStatusLine(const char* begin, const char* end, const char* data_end,
                            const char** pos, ResponseHead* out) {
  const auto starved = [&] {
    return end < data_end ? UpstreamError("response head too large") : ParseResult::Incomplete();
  };
  const char* p = begin;
  switch (fields::ParseHttpVersion(p, end, &out->version_minor)) {
    case fields::VersionStatus::kNeedMore:
      return starved();
    case fields::VersionStatus::kMalformed:
      return UpstreamError("malformed status line");
    case fields::VersionStatus::kUnsupported:
      return UpstreamError("unsupported HTTP version in response");
    case fields::VersionStatus::kOk:
      break;
  }
  p += fields::kHttpVersionLength;
  if (p == end) return starved();
  if (*p != ' ') return UpstreamError("malformed status line");
  ++p;
  int status = 0;
  for (int i = 0; i < 3; ++i, ++p) {
    if (p == end) return starved();
    if (*p < '0' || *p > '9') return UpstreamError("malformed status code");
    status = status * 10 + (*p - '0');
  }
  if (status < 100 || status > 599) return UpstreamError("status code out of range");
  out->status = status;
  if (p == end) return starved();
  // reason-phrase = *( HTAB / SP / VCHAR / obs-text ), and the SP before it may be missing.
  const char* reason_start = p;
  if (*p == ' ') {
    reason_start = ++p;
    p = fields::ScanFieldValue(p, end);
    if (p == end) return starved();
  }
  if (*p != '\r') return UpstreamError("malformed status line");
  if (p + 1 == end) return starved();
  if (p[1] != '\n') return UpstreamError("bare CR in status line");
  out->reason = std::string_view(reason_start, static_cast<size_t>(p - reason_start));
  *pos = p + 2;
  return ParseResult::Done();
}

}  // namespace

bool StatusHasNoBody(Method request_method, int status) {
  // RFC 9112 §6.3 rules 1-2: HEAD responses, 1xx, 204, 304, and a 2xx to CONNECT (a tunnel).
  return request_method == Method::kHead || status < 200 || status == 204 || status == 304 ||
         (request_method == Method::kConnect && status < 300);
}

ParseResult ParseResponseHead(std::string_view data, Method request_method,
                              const HeadLimits& limits, ResponseHead* out) {
  fields::ResetHeadKeepingCapacity(out);
  const char* const begin = data.data();
  const char* const data_end = begin + data.size();
  const char* const end = begin + std::min(data.size(), limits.max_head);

  const char* p = begin;
  ParseResult result = ParseStatusLine(begin, end, data_end, &p, out);
  if (result.status != ParseStatus::kDone) return result;

  fields::FieldSummary summary;
  result = fields::ParseFieldSection(begin, data_end, limits, &p, &out->headers, &summary);
  if (result.status == ParseStatus::kError) return UpstreamError(result.reason);
  if (result.status != ParseStatus::kDone) return result;

  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
  const bool http11 = out->version_minor == 1;
  if (summary.has_transfer_encoding && !http11) {
    return UpstreamError("Transfer-Encoding in an HTTP/1.0 response");
  }
  // Framing fields are validated even where the status means no body follows: an upstream
  // that sends ambiguous framing is not trusted with the connection afterwards.
  BodyKind framed = BodyKind::kNone;
  result = fields::ResolveFraming(summary, &framed);
  if (result.status != ParseStatus::kDone) return UpstreamError(result.reason);
  out->content_length = summary.content_length;

  if (StatusHasNoBody(request_method, out->status)) {
    out->body = BodyKind::kNone;
  } else if (framed == BodyKind::kNone) {
    out->body = BodyKind::kCloseDelimited;
  } else {
    out->body = framed;
  }
  out->keep_alive = !summary.connection_close && (http11 || summary.connection_keep_alive) &&
                    out->body != BodyKind::kCloseDelimited && out->status != 101;
  out->head_size = static_cast<size_t>(p - begin);
  return ParseResult::Done();
}

}  // namespace outrigger::http
