#include "proxy/log/access_log.h"

#include <array>
#include <charconv>
#include <ctime>

namespace outrigger::log {
namespace {

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// Milliseconds with three decimals ("12.345"), from nanoseconds.
void AppendMillis(int64_t ns, std::string* out) {
  if (ns < 0) ns = 0;
  const int64_t us = ns / 1000;
  AppendInt(us / 1000, out);
  char frac[4] = {'.', static_cast<char>('0' + (us / 100) % 10),
                  static_cast<char>('0' + (us / 10) % 10), static_cast<char>('0' + us % 10)};
  out->append(frac, 4);
}

// A JSON string body: quotes, backslashes and control bytes escaped, and bytes that are not
// UTF-8 (a request's target can hold any) as \u00XX of the byte, so every line parses.
// Bytes a JSON string holds as they are (printable ASCII but '"' and '\\'): one table load
// per byte on the common path, where paths, hosts and user agents are plain ASCII.
constexpr auto kJsonPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c) t[static_cast<size_t>(c)] = c != '"' && c != '\\';
  return t;
}();

void AppendJsonEscaped(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (kJsonPlain[c]) continue;
    if (c >= 0x80) {
      // Keep a well-formed multibyte sequence as it is.
      size_t n = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
      bool ok = n != 0 && i + n <= s.size();
      for (size_t k = 1; ok && k < n; ++k)
        ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
      if (ok) {
        i += n - 1;
        continue;
      }
    }
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default: {
        char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        out->append(u, 6);
      }
    }
  }
  out->append(s.data() + run, s.size() - run);
}

void JsonString(std::string_view key, std::string_view value, std::string* out) {
  out->append(key);
  out->push_back('"');
  AppendJsonEscaped(value, out);
  out->push_back('"');
}

void JsonStringOrNull(std::string_view key, bool present, std::string_view value,
                      std::string* out) {
  if (!present) {
    out->append(key);
    out->append("null");
    return;
  }
  JsonString(key, value, out);
}

void JsonMillisOrNull(std::string_view key, int64_t ns, std::string* out) {
  out->append(key);
  if (ns < 0) {
    out->append("null");
  } else {
    AppendMillis(ns, out);
  }
}

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

// Combined-format field: '"' and '\' escaped, and bytes outside printable ASCII as \xXX, as
// nginx's escape=default does.
void AppendCommonEscaped(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      char x[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
      out->append(x, 4);
    } else {
      out->push_back(ch);
    }
  }
}

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void Put2(char* at, int v) {
  at[0] = static_cast<char>('0' + v / 10 % 10);
  at[1] = static_cast<char>('0' + v % 10);
}
void Put4(char* at, int v) {
  Put2(at, v / 100);
  Put2(at + 2, v % 100);
}

}  // namespace

std::string_view TerminationName(Termination t) {
  switch (t) {
    case Termination::kOk:
      return "ok";
    case Termination::kClientClosed:
      return "client_closed";
    case Termination::kClientTimeout:
      return "client_timeout";
    case Termination::kBadRequest:
      return "bad_request";
    case Termination::kLimit:
      return "limit";
    case Termination::kNoRoute:
      return "no_route";
    case Termination::kNoBackend:
      return "no_backend";
    case Termination::kUpstreamConnect:
      return "upstream_connect_failed";
    case Termination::kUpstreamTimeout:
      return "upstream_timeout";
    case Termination::kUpstreamReset:
      return "upstream_reset";
    case Termination::kUpstreamProtocol:
      return "upstream_protocol_error";
  }
  return "ok";
}

void AccessRecord::Reset() {
  has_request = false;
  has_user_agent = false;
  has_referer = false;
  has_trace_id = false;
  pool = {};
  backend.clear();
  attempts = 0;
  connect_ns = -1;
  header_ns = -1;
  response_head_bytes = 0;
  termination = Termination::kOk;
}

void TimeCache::Update(int64_t unix_s) {
  if (unix_s == second_) return;
  second_ = unix_s;
  const time_t t = static_cast<time_t>(unix_s);
  tm cal{};
  gmtime_r(&t, &cal);
  char* r = rfc3339_;
  Put4(r, cal.tm_year + 1900);
  r[4] = '-';
  Put2(r + 5, cal.tm_mon + 1);
  r[7] = '-';
  Put2(r + 8, cal.tm_mday);
  r[10] = 'T';
  Put2(r + 11, cal.tm_hour);
  r[13] = ':';
  Put2(r + 14, cal.tm_min);
  r[16] = ':';
  Put2(r + 17, cal.tm_sec);
  char* c = common_;
  Put2(c, cal.tm_mday);
  c[2] = '/';
  c[3] = kMonths[cal.tm_mon][0];
  c[4] = kMonths[cal.tm_mon][1];
  c[5] = kMonths[cal.tm_mon][2];
  c[6] = '/';
  Put4(c + 7, cal.tm_year + 1900);
  c[11] = ':';
  Put2(c + 12, cal.tm_hour);
  c[14] = ':';
  Put2(c + 15, cal.tm_min);
  c[17] = ':';
  Put2(c + 18, cal.tm_sec);
  const char tz[] = " +0000";
  for (int i = 0; i < 6; ++i) c[20 + i] = tz[i];
}

void TimeCache::Rfc3339(int64_t unix_ms, std::string* out) {
  Update(unix_ms / 1000);
  out->append(rfc3339_, 19);
  const int ms = static_cast<int>(unix_ms % 1000);
  char frac[5] = {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                  static_cast<char>('0' + ms % 10), 'Z'};
  out->append(frac, 5);
}

void TimeCache::Common(int64_t unix_ms, std::string* out) {
  Update(unix_ms / 1000);
  out->append(common_, 26);
}

bool TraceIdOf(std::string_view v, char* trace_id) {
  // version "00": exactly 55 bytes; a later version may append fields after the flags.
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
  if (v.substr(0, 2) == "ff" || (v.substr(0, 2) == "00" && v.size() != 55)) return false;
  bool nonzero = false;
  for (size_t i = 0; i < 32; ++i) {
    const char c = v[3 + i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    nonzero = nonzero || c != '0';
    trace_id[i] = c;
  }
  return nonzero;
}

void AppendJsonLine(const AccessRecord& r, const LineEnd& end, TimeCache* clock, std::string* out) {
  const bool req = r.has_request;
  out->append("{\"time\":\"");
  clock->Rfc3339(r.start_unix_ms, out);
  out->push_back('"');
  JsonString(",\"listener\":", end.listener, out);
  JsonStringOrNull(",\"client\":", !r.client.empty(), r.client, out);
  JsonStringOrNull(",\"method\":", req, r.method, out);
  const size_t q = r.target.find('?');
  JsonStringOrNull(",\"path\":", req, PathOf(r.target), out);
  JsonStringOrNull(
      ",\"query\":", req && q != std::string::npos,
      q == std::string::npos ? std::string_view() : std::string_view(r.target).substr(q + 1), out);
  JsonStringOrNull(",\"protocol\":", req, r.version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1", out);
  JsonStringOrNull(",\"host\":", req && !r.host.empty(), r.host, out);
  out->append(",\"status\":");
  AppendInt(end.status, out);
  out->append(",\"bytes_in\":");
  AppendInt(static_cast<int64_t>(end.bytes_in), out);
  out->append(",\"bytes_out\":");
  AppendInt(static_cast<int64_t>(end.bytes_out), out);
  out->append(",\"duration_ms\":");
  AppendMillis(end.duration_ns, out);
  JsonMillisOrNull(",\"upstream_connect_ms\":", r.connect_ns, out);
  JsonMillisOrNull(",\"upstream_header_ms\":", r.header_ns, out);
  JsonStringOrNull(",\"pool\":", !r.pool.empty(), r.pool, out);
  JsonStringOrNull(",\"backend\":", !r.backend.empty(), r.backend, out);
  out->append(",\"attempts\":");
  AppendInt(r.attempts, out);
  JsonStringOrNull(",\"request_id\":", !r.request_id.empty(), r.request_id, out);
  JsonStringOrNull(",\"user_agent\":", req && r.has_user_agent, r.user_agent, out);
  JsonStringOrNull(",\"referer\":", req && r.has_referer, r.referer, out);
  out->append(",\"tls_version\":null,\"sni\":null");
  JsonStringOrNull(",\"trace_id\":", req && r.has_trace_id, std::string_view(r.trace_id, 32), out);
  JsonString(",\"termination\":", TerminationName(r.termination), out);
  out->append("}\n");
}

void AppendCombinedLine(const AccessRecord& r, const LineEnd& end, TimeCache* clock,
                        std::string* out) {
  // $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
  // "$http_referer" "$http_user_agent"
  out->append(r.client.empty() ? std::string_view("-") : std::string_view(r.client));
  out->append(" - - [");
  clock->Common(r.start_unix_ms, out);
  out->append("] \"");
  if (r.has_request) {
    AppendCommonEscaped(r.method, out);
    out->push_back(' ');
    AppendCommonEscaped(r.target, out);
    out->append(r.version_minor == 0 ? " HTTP/1.0" : " HTTP/1.1");
  }
  out->append("\" ");
  AppendInt(end.status, out);
  out->push_back(' ');
  const uint64_t body =
      end.bytes_out > r.response_head_bytes ? end.bytes_out - r.response_head_bytes : 0;
  AppendInt(static_cast<int64_t>(body), out);
  out->append(" \"");
  if (r.has_request && r.has_referer) {
    AppendCommonEscaped(r.referer, out);
  } else {
    out->push_back('-');
  }
  out->append("\" \"");
  if (r.has_request && r.has_user_agent) {
    AppendCommonEscaped(r.user_agent, out);
  } else {
    out->push_back('-');
  }
  out->append("\"\n");
}

}  // namespace outrigger::log
