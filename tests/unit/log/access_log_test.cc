// The access log's line formats: every JSON key present (null when not applicable), escaping
// that keeps every line parseable, nginx's combined layout, and the traceparent reader.
#include "proxy/log/access_log.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

namespace outrigger::log {
namespace {

AccessRecord Sample() {
  AccessRecord r;
  r.has_request = true;
  r.start_unix_ms = 1764894061123;  // 2025-12-05T00:21:01.123Z
  r.method = "GET";
  r.target = "/a/b?x=1&y=2";
  r.host = "example.com";
  r.user_agent = "curl/8.0";
  r.has_user_agent = true;
  r.client = "203.0.113.9";
  r.request_id = "abc";
  r.pool = "api";
  r.backend = "127.0.0.1:9001";
  r.attempts = 2;
  r.connect_ns = 1'500'000;
  r.header_ns = 12'345'678;
  r.response_head_bytes = 100;
  return r;
}

TEST(AccessLogTest, JsonHasEveryKey) {
  AccessRecord r = Sample();
  TimeCache clock;
  std::string line;
  AppendJsonLine(r, {"web", 200, 150, 1100, 20'000'000}, &clock, &line);
  ASSERT_EQ(line.back(), '\n');
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["time"], "2025-12-05T00:21:01.123Z");
  EXPECT_EQ(j["listener"], "web");
  EXPECT_EQ(j["client"], "203.0.113.9");
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["path"], "/a/b");
  EXPECT_EQ(j["query"], "x=1&y=2");
  EXPECT_EQ(j["protocol"], "HTTP/1.1");
  EXPECT_EQ(j["host"], "example.com");
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["bytes_in"], 150);
  EXPECT_EQ(j["bytes_out"], 1100);
  EXPECT_DOUBLE_EQ(j["duration_ms"].get<double>(), 20.0);
  EXPECT_DOUBLE_EQ(j["upstream_connect_ms"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(j["upstream_header_ms"].get<double>(), 12.345);
  EXPECT_EQ(j["pool"], "api");
  EXPECT_EQ(j["backend"], "127.0.0.1:9001");
  EXPECT_EQ(j["attempts"], 2);
  EXPECT_EQ(j["request_id"], "abc");
  EXPECT_EQ(j["user_agent"], "curl/8.0");
  EXPECT_TRUE(j["referer"].is_null());
  EXPECT_TRUE(j["tls_version"].is_null());
  EXPECT_TRUE(j["sni"].is_null());
  EXPECT_TRUE(j["trace_id"].is_null());
  EXPECT_EQ(j["termination"], "ok");
  EXPECT_EQ(j.size(), 24u);
}

TEST(AccessLogTest, JsonNumbersAtEveryDigitCount) {
  TimeCache clock;
  for (uint64_t n : {0ull, 9ull, 10ull, 99ull, 100ull, 999ull, 1000ull, 65535ull, 1ull << 40}) {
    std::string line;
    AppendJsonLine(Sample(), {"web", 200, n, n, static_cast<int64_t>(n) * 1000}, &clock, &line);
    nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_EQ(j["bytes_in"], n);
    EXPECT_EQ(j["bytes_out"], n);
    EXPECT_EQ(j["duration_ms"].get<double>(), static_cast<double>(n / 1000) + (n % 1000) / 1e3)
        << n;
  }
}

TEST(AccessLogTest, JsonTlsFields) {
  AccessRecord r = Sample();
  r.tls_version = "TLSv1.3";
  r.sni = "a\"b.test";
  r.has_sni = true;
  TimeCache clock;
  std::string line;
  AppendJsonLine(r, {"web", 200, 0, 0, 0}, &clock, &line);
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["tls_version"], "TLSv1.3");
  EXPECT_EQ(j["sni"], "a\"b.test");
  r.Reset();
  EXPECT_TRUE(r.tls_version.empty());
  EXPECT_FALSE(r.has_sni);
}

TEST(AccessLogTest, JsonNullsWithoutARequest) {
  AccessRecord r;
  r.start_unix_ms = 0;
  r.client = "127.0.0.1";
  r.termination = Termination::kBadRequest;
  TimeCache clock;
  std::string line;
  AppendJsonLine(r, {"web", 400, 0, 90, 1000}, &clock, &line);
  nlohmann::json j = nlohmann::json::parse(line);
  for (const char* key : {"method", "path", "query", "protocol", "host", "upstream_connect_ms",
                          "upstream_header_ms", "pool", "backend", "request_id", "user_agent"}) {
    EXPECT_TRUE(j[key].is_null()) << key;
  }
  EXPECT_EQ(j["time"], "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(j["termination"], "bad_request");
}

TEST(AccessLogTest, JsonEscapesEverythingAClientCanSend) {
  AccessRecord r = Sample();
  r.target = std::string("/\"q\\\x01\n\xff\xc3\xa9");
  r.user_agent = "a\"}\n{\"forged\":1";
  TimeCache clock;
  std::string line;
  AppendJsonLine(r, {"web", 200, 0, 0, 0}, &clock, &line);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["path"], "/\"q\\\x01\n\xc3\xbf\xc3\xa9");  // \u00ff for the stray byte
  EXPECT_EQ(j["user_agent"], "a\"}\n{\"forged\":1");
}

TEST(AccessLogTest, CombinedMatchesNginxLayout) {
  AccessRecord r = Sample();
  r.referer = "http://ref/\"x\"";
  r.has_referer = true;
  TimeCache clock;
  std::string line;
  AppendCombinedLine(r, {"web", 200, 150, 1100, 0}, &clock, &line);
  EXPECT_EQ(line,
            "203.0.113.9 - - [05/Dec/2025:00:21:01 +0000] \"GET /a/b?x=1&y=2 HTTP/1.1\" 200 1000 "
            "\"http://ref/\\x22x\\x22\" \"curl/8.0\"\n");
  const RE2 nginx(
      R"re(^(\S+) - (\S+) \[([^\]]+)\] "([^"\\]*(?:\\.[^"\\]*)*)" (\d{3}) (\d+) "([^"\\]*(?:\\.[^"\\]*)*)" "([^"\\]*(?:\\.[^"\\]*)*)"\n$)re");
  EXPECT_TRUE(RE2::FullMatch(line, nginx));
}

TEST(AccessLogTest, TraceIdFromTraceparent) {
  char id[32];
  ASSERT_TRUE(TraceIdOf("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", id));
  EXPECT_EQ(std::string(id, 32), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_FALSE(TraceIdOf("00-00000000000000000000000000000000-b7ad6b7169203331-01", id));
  EXPECT_FALSE(TraceIdOf("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", id));
  EXPECT_FALSE(TraceIdOf("garbage", id));
  EXPECT_FALSE(TraceIdOf("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x", id));
  EXPECT_TRUE(TraceIdOf("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x", id));
}

TEST(AccessLogTest, WallClockFromTheMonotonicClock) {
  TimeCache clock;
  const auto wall_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const int64_t mono = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::steady_clock::now().time_since_epoch())
                           .count();
  const int64_t before = wall_ms();
  const int64_t got = clock.UnixMillis(mono);
  EXPECT_GE(got, before - 5);
  EXPECT_LE(got, wall_ms() + 5);
  // A later instant, within the second the offset is kept, maps by the same offset.
  EXPECT_EQ(clock.UnixMillis(mono + 250'000'000) - got, 250);
}

// What JsonEscapesEverythingAClientCanSend expects of any bytes: a well-formed UTF-8
// sequence kept, any other byte read as the code point of its value. Decides well-formed
// by decoding: the code point must need that many bytes, not be a surrogate, nor pass
// U+10FFFF.
std::string DecodedAsLogged(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    bool ok = n != 0 && i + n <= s.size();
    uint32_t cp = n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    for (size_t k = 1; ok && k < n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      ok = (b & 0xc0) == 0x80;
      cp = cp << 6 | (b & 0x3f);
    }
    const uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    ok = ok && cp >= min && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
    if (ok) {
      out.append(s.substr(i, n));
      i += n - 1;
    } else if (c >= 0x80) {
      out.push_back(static_cast<char>(0xc0 | c >> 6));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

// Fields of every length around the 16-byte scan steps, with a special byte at each place,
// and fields long enough that the line outgrows the stack room.
TEST(AccessLogTest, JsonEscapingHoldsAtEveryPositionAndLength) {
  std::mt19937 rng(7);
  const std::string specials = "\"\\\x01\x1f\x7f\x80\xff\n\xc3\xa9\xe2\x82\xac";
  TimeCache clock;
  for (size_t len :
       {0, 1, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 47, 100, 700, 5000}) {
    for (int round = 0; round < 40; ++round) {
      std::string ua(len, 'a');
      for (char& ch : ua) ch = static_cast<char>('a' + rng() % 26);
      if (len > 0) {
        for (int k = 0; k < 3; ++k) ua[rng() % len] = specials[rng() % specials.size()];
        // Any byte from 0x80 up, and a run that may or may not be a well-formed sequence.
        ua[rng() % len] = static_cast<char>(0x80 + rng() % 0x80);
        const size_t at = rng() % len;
        for (size_t k = at; k < std::min(len, at + 4); ++k)
          ua[k] = static_cast<char>(k == at ? 0xc0 + rng() % 0x40 : 0x80 + rng() % 0x40);
      }
      AccessRecord r = Sample();
      r.user_agent = ua;
      r.target = "/" + ua;
      std::string line = "prefix";
      AppendJsonLine(r, {"web", 200, 0, 0, 0}, &clock, &line);
      ASSERT_EQ(line.substr(0, 6), "prefix");
      ASSERT_EQ(line.find('\n'), line.size() - 1);
      for (size_t i = 0; i + 1 < line.size(); ++i) {
        const auto c = static_cast<unsigned char>(line[i]);
        ASSERT_TRUE(c >= 0x20 && c != 0x7f) << "raw byte " << int{c} << " at " << i;
      }
      nlohmann::json j = nlohmann::json::parse(line.substr(6));
      ASSERT_EQ(j["user_agent"], DecodedAsLogged(ua)) << len << " " << round;
    }
  }
}

TEST(AccessLogTest, CombinedLongFieldsOutgrowTheStackRoom) {
  AccessRecord r = Sample();
  r.user_agent = std::string(3000, '"');
  r.has_user_agent = true;
  TimeCache clock;
  std::string line;
  AppendCombinedLine(r, {"web", 200, 150, 1100, 0}, &clock, &line);
  std::string escaped;
  for (int i = 0; i < 3000; ++i) escaped += "\\x22";
  EXPECT_TRUE(line.ends_with(" \"" + escaped + "\"\n")) << line.substr(0, 200);
}

}  // namespace
}  // namespace outrigger::log
