// Fuzzes ParseRequestHead and, for every head it accepts, the upstream head written from it:
// what the proxy forwards must itself be a valid head with the same meaning, or a backend
// could read a different request than the one the proxy checked.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "proxy/http/head_writer.h"
#include "proxy/http/request_parser.h"

namespace outrigger::http {
namespace {

bool Within(std::string_view inner, std::string_view outer) {
  return inner.empty() || (inner.data() >= outer.data() &&
                           inner.data() + inner.size() <= outer.data() + outer.size());
}

void CheckAccepted(std::string_view input, const HeadLimits& limits, const RequestHead& head) {
  FUZZ_CHECK(head.head_size <= input.size());
  FUZZ_CHECK(head.head_size <= limits.max_head);
  FUZZ_CHECK(head.headers.size() <= limits.max_headers);
  FUZZ_CHECK(!head.method_text.empty() && !head.target.empty() && !head.path.empty());
  FUZZ_CHECK(head.version_minor == 0 || head.version_minor == 1);
  FUZZ_CHECK(head.body != BodyKind::kCloseDelimited);
  FUZZ_CHECK(head.body == BodyKind::kContentLength || head.content_length == 0);
  FUZZ_CHECK(!head.upgrade_websocket || head.version_minor == 1);
  const std::string_view consumed = input.substr(0, head.head_size);
  FUZZ_CHECK(consumed.size() >= 4 && consumed.substr(consumed.size() - 4) == "\r\n\r\n");
  FUZZ_CHECK(Within(head.method_text, consumed) && Within(head.target, consumed));
  FUZZ_CHECK(head.path == "/" || Within(head.path, consumed));
  FUZZ_CHECK(Within(head.authority, consumed));
  for (const Header& h : head.headers) {
    FUZZ_CHECK(!h.name.empty() && Within(h.name, consumed) && Within(h.value, consumed));
    for (char c : h.value) FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
  }
}

void CheckRewrite(const RequestHead& head) {
  std::string upstream;
  WriteUpstreamRequestHead(head, {"192.0.2.1", "https"}, &upstream);
  HeadLimits generous;
  generous.max_head = upstream.size();
  generous.max_headers = 2 * head.headers.size() + 6;  // added fields and Upgrade copies
  RequestHead again;
  const ParseResult r = ParseRequestHead(upstream, generous, &again);
  FUZZ_CHECK(r.status == ParseStatus::kDone);
  FUZZ_CHECK(again.head_size == upstream.size());
  FUZZ_CHECK(again.method_text == head.method_text);
  FUZZ_CHECK(again.path == head.path);
  FUZZ_CHECK(again.authority == head.authority);
  FUZZ_CHECK(again.version_minor == head.version_minor);
  FUZZ_CHECK(again.body == head.body);
  FUZZ_CHECK(again.content_length == head.content_length);
  FUZZ_CHECK(again.upgrade_websocket == head.upgrade_websocket);
}

void ParseWith(std::string_view input, const HeadLimits& limits) {
  RequestHead head;
  const ParseResult r = ParseRequestHead(input, limits, &head);
  switch (r.status) {
    case ParseStatus::kIncomplete:
      FUZZ_CHECK(input.size() <= limits.max_head);
      break;
    case ParseStatus::kError:
      FUZZ_CHECK(r.http_status == 400 || r.http_status == 414 || r.http_status == 431 ||
                 r.http_status == 501 || r.http_status == 505);
      FUZZ_CHECK(!r.reason.empty());
      break;
    case ParseStatus::kDone: {
      CheckAccepted(input, limits, head);
      // The head alone parses the same; one byte less is a valid prefix, so incomplete.
      RequestHead prefix;
      const std::string_view consumed = input.substr(0, head.head_size);
      FUZZ_CHECK(ParseRequestHead(consumed, limits, &prefix).status == ParseStatus::kDone);
      FUZZ_CHECK(prefix.head_size == head.head_size);
      FUZZ_CHECK(
          ParseRequestHead(consumed.substr(0, consumed.size() - 1), limits, &prefix).status ==
          ParseStatus::kIncomplete);
      CheckRewrite(head);
      break;
    }
  }
}

}  // namespace
}  // namespace outrigger::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using outrigger::http::HeadLimits;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  outrigger::http::ParseWith(input, HeadLimits{});
  // Small limits put the 414/431 boundaries where short inputs reach them.
  outrigger::http::ParseWith(input,
                             HeadLimits{.max_request_line = 40, .max_head = 200, .max_headers = 4});
  return 0;
}
