#include "proxy/log/access_log.h"

#include <time.h>

#include <array>
#include <charconv>
#include <cstring>
#include <ctime>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace outrigger::log {
namespace {

// Lines are written through a raw pointer into room sized in advance (AppendBounded), so a
// field costs a copy of its bytes, not a std::string::append call with its checks.
struct Cursor {
  char* p;

  template <size_t N>
  void Lit(const char (&s)[N]) {
    std::memcpy(p, s, N - 1);
    p += N - 1;
  }
  void Raw(std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
  void Char(char c) { *p++ = c; }
  // Statuses, attempts and most byte counts and milliseconds are below 1000: those are
  // written digit by digit, without to_chars' length loop.
  void Int(int64_t v) {
    if (static_cast<uint64_t>(v) >= 1000) {
      p = std::to_chars(p, p + 20, v).ptr;
      return;
    }
    const auto u = static_cast<unsigned>(v);
    if (u >= 100) {
      p[0] = static_cast<char>('0' + u / 100);
      p[1] = static_cast<char>('0' + u / 10 % 10);
      p[2] = static_cast<char>('0' + u % 10);
      p += 3;
    } else if (u >= 10) {
      p[0] = static_cast<char>('0' + u / 10);
      p[1] = static_cast<char>('0' + u % 10);
      p += 2;
    } else {
      *p++ = static_cast<char>('0' + u);
    }
  }
  // Milliseconds with three decimals ("12.345"), from nanoseconds.
  void Millis(int64_t ns) {
    if (ns < 0) ns = 0;
    const int64_t us = ns / 1000;
    Int(us / 1000);
    p[0] = '.';
    p[1] = static_cast<char>('0' + (us / 100) % 10);
    p[2] = static_cast<char>('0' + (us / 10) % 10);
    p[3] = static_cast<char>('0' + us % 10);
    p += 4;
  }
};

// Runs `write(char* room)` (which returns the end of what it wrote) on at least `bound`
// bytes of room and appends the result to *out. Lines fit the stack buffer unless a client
// sent very long fields; those are written straight into *out.
template <typename Write>
void AppendBounded(size_t bound, std::string* out, Write write) {
  constexpr size_t kStackRoom = 4096;
  if (bound <= kStackRoom) {
    char room[kStackRoom];
    const char* end = write(room);
    out->append(room, static_cast<size_t>(end - room));
    return;
  }
  const size_t old = out->size();
  out->resize(old + bound);
  const char* end = write(out->data() + old);
  out->resize(static_cast<size_t>(end - out->data()));
}

// Bytes a JSON string holds as they are: printable ASCII but '"' and '\\'.
constexpr auto kJsonPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c) t[static_cast<size_t>(c)] = c != '"' && c != '\\';
  return t;
}();

#if defined(__SSE2__)
// Bit k set when byte k of `v` needs escaping in a JSON string.
inline unsigned JsonSpecials(__m128i v) {
  // A signed compare: bytes from 0x80 up are negative, so one test finds them and controls.
  const __m128i special = _mm_or_si128(
      _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)), _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))),
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
  return static_cast<unsigned>(_mm_movemask_epi8(special));
}

inline __m128i Load8(const char* s) { return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s)); }

inline __m128i Load4(const char* s) {
  int32_t v;
  std::memcpy(&v, s, 4);
  return _mm_cvtsi32_si128(v);
}
#endif

// Copies the leading bytes of s[0, n) that a JSON string holds as they are to `out`, and
// returns how many. Paths, hosts, addresses and ids are nearly always plain ASCII, so where
// SSE2 is (every x86-64) a field is checked 16 bytes a step, its last step and a short
// field through loads that overlap rather than byte by byte (bytes seen twice were plain).
// Loads stay within s[0, n); stores may reach past the bytes counted, never past out + n,
// and the caller's later writes overwrite them.
inline size_t CopyJsonPlain(const char* s, size_t n, char* out) {
#if defined(__SSE2__)
  if (n >= 16) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), v);
      if (const unsigned m = JsonSpecials(v); m != 0) return i + __builtin_ctz(m);
    }
    if (i == n) return n;
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + n - 16));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + n - 16), v);
    const unsigned m = JsonSpecials(v);
    return m == 0 ? n : n - 16 + __builtin_ctz(m);
  }
  if (n >= 8) {  // bytes [0, 8) in the low half, [n - 8, n) in the high half
    const __m128i lo = Load8(s);
    const __m128i hi = Load8(s + n - 8);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), lo);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + n - 8), hi);
    const unsigned m = JsonSpecials(_mm_unpacklo_epi64(lo, hi));
    if (m == 0) return n;
    return (m & 0xff) != 0 ? __builtin_ctz(m) : n - 16 + __builtin_ctz(m);
  }
  if (n >= 4) {  // bytes [0, 4) in bytes 0-3, [n - 4, n) in bytes 4-7; the rest are zeros
    const __m128i lo = Load4(s);
    const __m128i hi = Load4(s + n - 4);
    std::memcpy(out, s, 4);
    std::memcpy(out + n - 4, s + n - 4, 4);
    const unsigned m = JsonSpecials(_mm_unpacklo_epi32(lo, hi)) & 0xff;
    if (m == 0) return n;
    return (m & 0xf) != 0 ? __builtin_ctz(m) : n - 8 + __builtin_ctz(m);
  }
#endif
  size_t i = 0;
  for (; i < n && kJsonPlain[static_cast<unsigned char>(s[i])]; ++i) out[i] = s[i];
  return i;
}

// The length of the well-formed UTF-8 sequence at s[0, n) (s[0] >= 0x80), or 0: RFC 3629's
// table, so no overlong form, surrogate or code point above U+10FFFF passes as text.
size_t Utf8Sequence(const char* s, size_t n) {
  const auto c = static_cast<unsigned char>(s[0]);
  size_t len = 0;
  unsigned char lo = 0x80;  // the second byte's range
  unsigned char hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  }
  if (len == 0 || len > n) return 0;
  const auto second = static_cast<unsigned char>(s[1]);
  if (second < lo || second > hi) return 0;
  for (size_t k = 2; k < len; ++k)
    if ((static_cast<unsigned char>(s[k]) & 0xc0) != 0x80) return 0;
  return len;
}

// A JSON string body: quotes, backslashes and control bytes escaped, and bytes that are not
// UTF-8 (a request's target can hold any) as \u00XX of the byte, so every line parses.
// Writes at most 6 bytes per byte of `s`.
constexpr size_t kJsonEscapeGrowth = 6;

// The rest of JsonEscaped, from the first byte that needs more than a copy, written at `at`;
// returns its end. A pointer in and out, not the caller's Cursor: a cursor whose address
// escapes cannot stay in a register while the caller writes its line.
[[gnu::noinline]] char* JsonEscapedRest(std::string_view s, char* at) {
  Cursor w{at};
  static constexpr char kHex[] = "0123456789abcdef";
  const char* d = s.data();
  const size_t n = s.size();
  size_t i = 0;
  for (;;) {
    const size_t run = CopyJsonPlain(d + i, n - i, w.p);
    w.p += run;
    i += run;
    if (i == n) return w.p;
    const auto c = static_cast<unsigned char>(d[i]);
    if (c >= 0x80) {
      if (const size_t len = Utf8Sequence(d + i, n - i); len != 0) {
        w.Raw({d + i, len});
        i += len;
        continue;
      }
    }
    ++i;
    switch (c) {
      case '"':
        w.Lit("\\\"");
        break;
      case '\\':
        w.Lit("\\\\");
        break;
      case '\n':
        w.Lit("\\n");
        break;
      case '\r':
        w.Lit("\\r");
        break;
      case '\t':
        w.Lit("\\t");
        break;
      default:
        w.Lit("\\u00");
        w.Char(kHex[c >> 4]);
        w.Char(kHex[c & 0xf]);
    }
  }
}

inline void JsonEscaped(std::string_view s, Cursor* out) {
  const size_t run = CopyJsonPlain(s.data(), s.size(), out->p);
  out->p += run;
  if (run != s.size()) out->p = JsonEscapedRest(s.substr(run), out->p);
}

template <size_t N>
void JsonString(const char (&key)[N], std::string_view value, Cursor* out) {
  out->Lit(key);
  out->Char('"');
  JsonEscaped(value, out);
  out->Char('"');
}

// A string the proxy controls that holds nothing to escape (TerminationName's).
template <size_t N>
void JsonPlainString(const char (&key)[N], std::string_view value, Cursor* out) {
  out->Lit(key);
  out->Char('"');
  out->Raw(value);
  out->Char('"');
}

template <size_t N>
void JsonStringOrNull(const char (&key)[N], bool present, std::string_view value, Cursor* out) {
  if (!present) {
    out->Lit(key);
    out->Lit("null");
    return;
  }
  JsonString(key, value, out);
}

template <size_t N>
void JsonMillisOrNull(const char (&key)[N], int64_t ns, Cursor* out) {
  out->Lit(key);
  if (ns < 0) {
    out->Lit("null");
  } else {
    out->Millis(ns);
  }
}

// Combined-format field: '"' and '\' escaped, and bytes outside printable ASCII as \xXX, as
// nginx's escape=default does. Writes at most 4 bytes per byte of `s`.
constexpr size_t kCommonEscapeGrowth = 4;

void CommonEscaped(std::string_view s, Cursor* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out->Lit("\\x");
      out->Char(kHex[c >> 4]);
      out->Char(kHex[c & 0xf]);
    } else {
      out->Char(ch);
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
  tls_version = {};
  has_sni = false;
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

char* TimeCache::Rfc3339(int64_t unix_ms, char* out) {
  Update(unix_ms / 1000);
  std::memcpy(out, rfc3339_, 19);
  const int ms = static_cast<int>(unix_ms % 1000);
  out[19] = '.';
  out[20] = static_cast<char>('0' + ms / 100);
  out[21] = static_cast<char>('0' + ms / 10 % 10);
  out[22] = static_cast<char>('0' + ms % 10);
  out[23] = 'Z';
  return out + kRfc3339Size;
}

int64_t TimeCache::UnixMillis(int64_t mono_ns) {
  if (mono_ns >= next_sync_ns_) {
    timespec wall{};
    timespec mono{};
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &wall);
    const int64_t mono_now = int64_t{mono.tv_sec} * 1'000'000'000 + mono.tv_nsec;
    offset_ns_ = int64_t{wall.tv_sec} * 1'000'000'000 + wall.tv_nsec - mono_now;
    next_sync_ns_ = mono_now + 1'000'000'000;
  }
  return (mono_ns + offset_ns_) / 1'000'000;
}

char* TimeCache::Common(int64_t unix_ms, char* out) {
  Update(unix_ms / 1000);
  std::memcpy(out, common_, kCommonSize);
  return out + kCommonSize;
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

size_t JsonLineBound(const AccessRecord& r, const LineEnd& end) {
  // The keys, quotes, numbers and fields of our own take under kFixed bytes; escaping grows
  // a client's field at most 6×.
  constexpr size_t kFixed = 768;
  return kFixed +
         kJsonEscapeGrowth *
             (end.listener.size() + r.client.size() + r.method.size() + r.target.size() +
              r.host.size() + r.pool.size() + r.backend.size() + r.request_id.size() +
              r.user_agent.size() + r.referer.size() + r.tls_version.size() + r.sni.size());
}

// Flattened: left to itself the compiler calls out for some fields' copies, which costs more
// than the copies.
[[gnu::flatten]] char* WriteJsonLine(const AccessRecord& r, const LineEnd& end, TimeCache* clock,
                                     char* room) {
  Cursor w{room};
  const bool req = r.has_request;
  w.Lit("{\"time\":\"");
  w.p = clock->Rfc3339(r.start_unix_ms, w.p);
  w.Char('"');
  JsonString(",\"listener\":", end.listener, &w);
  JsonStringOrNull(",\"client\":", !r.client.empty(), r.client, &w);
  // The parser admits only token characters in a method: nothing to escape.
  if (req) {
    w.Lit(",\"method\":\"");
    w.Raw(r.method);
    w.Char('"');
  } else {
    w.Lit(",\"method\":null");
  }
  const size_t q = r.target.find('?');
  JsonStringOrNull(",\"path\":", req, std::string_view(r.target).substr(0, q), &w);
  JsonStringOrNull(
      ",\"query\":", req && q != std::string::npos,
      q == std::string::npos ? std::string_view() : std::string_view(r.target).substr(q + 1), &w);
  if (!req) {
    w.Lit(",\"protocol\":null");
  } else if (r.version_minor == 0) {
    w.Lit(",\"protocol\":\"HTTP/1.0\"");
  } else {
    w.Lit(",\"protocol\":\"HTTP/1.1\"");
  }
  JsonStringOrNull(",\"host\":", req && !r.host.empty(), r.host, &w);
  w.Lit(",\"status\":");
  w.Int(end.status);
  w.Lit(",\"bytes_in\":");
  w.Int(static_cast<int64_t>(end.bytes_in));
  w.Lit(",\"bytes_out\":");
  w.Int(static_cast<int64_t>(end.bytes_out));
  w.Lit(",\"duration_ms\":");
  w.Millis(end.duration_ns);
  JsonMillisOrNull(",\"upstream_connect_ms\":", r.connect_ns, &w);
  JsonMillisOrNull(",\"upstream_header_ms\":", r.header_ns, &w);
  JsonStringOrNull(",\"pool\":", !r.pool.empty(), r.pool, &w);
  JsonStringOrNull(",\"backend\":", !r.backend.empty(), r.backend, &w);
  w.Lit(",\"attempts\":");
  w.Int(r.attempts);
  JsonStringOrNull(",\"request_id\":", !r.request_id.empty(), r.request_id, &w);
  JsonStringOrNull(",\"user_agent\":", req && r.has_user_agent, r.user_agent, &w);
  JsonStringOrNull(",\"referer\":", req && r.has_referer, r.referer, &w);
  JsonStringOrNull(",\"tls_version\":", !r.tls_version.empty(), r.tls_version, &w);
  JsonStringOrNull(",\"sni\":", r.has_sni, r.sni, &w);
  JsonStringOrNull(",\"trace_id\":", req && r.has_trace_id, std::string_view(r.trace_id, 32), &w);
  JsonPlainString(",\"termination\":", TerminationName(r.termination), &w);
  w.Lit("}\n");
  return w.p;
}

void AppendJsonLine(const AccessRecord& r, const LineEnd& end, TimeCache* clock, std::string* out) {
  AppendBounded(JsonLineBound(r, end), out,
                [&](char* room) { return WriteJsonLine(r, end, clock, room); });
}

size_t CombinedLineBound(const AccessRecord& r) {
  constexpr size_t kFixed = 128;
  return kFixed + r.client.size() +
         kCommonEscapeGrowth *
             (r.method.size() + r.target.size() + r.referer.size() + r.user_agent.size());
}

char* WriteCombinedLine(const AccessRecord& r, const LineEnd& end, TimeCache* clock, char* room) {
  // $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
  // "$http_referer" "$http_user_agent"
  Cursor w{room};
  w.Raw(r.client.empty() ? std::string_view("-") : std::string_view(r.client));
  w.Lit(" - - [");
  w.p = clock->Common(r.start_unix_ms, w.p);
  w.Lit("] \"");
  if (r.has_request) {
    CommonEscaped(r.method, &w);
    w.Char(' ');
    CommonEscaped(r.target, &w);
    w.Raw(r.version_minor == 0 ? " HTTP/1.0" : " HTTP/1.1");
  }
  w.Lit("\" ");
  w.Int(end.status);
  w.Char(' ');
  const uint64_t body =
      end.bytes_out > r.response_head_bytes ? end.bytes_out - r.response_head_bytes : 0;
  w.Int(static_cast<int64_t>(body));
  w.Lit(" \"");
  if (r.has_request && r.has_referer) {
    CommonEscaped(r.referer, &w);
  } else {
    w.Char('-');
  }
  w.Lit("\" \"");
  if (r.has_request && r.has_user_agent) {
    CommonEscaped(r.user_agent, &w);
  } else {
    w.Char('-');
  }
  w.Lit("\"\n");
  return w.p;
}

void AppendCombinedLine(const AccessRecord& r, const LineEnd& end, TimeCache* clock,
                        std::string* out) {
  AppendBounded(CombinedLineBound(r), out,
                [&](char* room) { return WriteCombinedLine(r, end, clock, room); });
}

}  // namespace outrigger::log
