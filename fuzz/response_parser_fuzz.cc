// Fuzzes ParseResponseHead (for GET and HEAD requests) and, for every head it accepts, the
// client head written from it, which must parse back to the same status and framing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "proxy/http/head_writer.h"
#include "proxy/http/response_parser.h"

namespace outrigger::http {
namespace {

bool HasNoBody(Method method, int status) {
  return method == Method::kHead || status < 200 || status == 204 || status == 304;
}

void ParseFor(std::string_view input, Method method, const HeadLimits& limits) {
  ResponseHead head;
  const ParseResult r = ParseResponseHead(input, method, limits, &head);
  if (r.status == ParseStatus::kIncomplete) {
    FUZZ_CHECK(input.size() <= limits.max_head);
    return;
  }
  if (r.status == ParseStatus::kError) {
    FUZZ_CHECK(r.http_status == 502 && !r.reason.empty());
    return;
  }
  FUZZ_CHECK(head.head_size <= input.size() && head.head_size <= limits.max_head);
  FUZZ_CHECK(head.headers.size() <= limits.max_headers);
  FUZZ_CHECK(head.status >= 100 && head.status <= 599);
  FUZZ_CHECK(head.version_minor == 0 || head.version_minor == 1);
  FUZZ_CHECK(!HasNoBody(method, head.status) || head.body == BodyKind::kNone);
  FUZZ_CHECK(head.body != BodyKind::kCloseDelimited || !head.keep_alive);
  FUZZ_CHECK(head.status != 101 || !head.keep_alive);
  const std::string_view consumed = input.substr(0, head.head_size);
  FUZZ_CHECK(consumed.size() >= 4 && consumed.substr(consumed.size() - 4) == "\r\n\r\n");
  FUZZ_CHECK(
      ParseResponseHead(consumed.substr(0, consumed.size() - 1), method, limits, &head).status ==
      ParseStatus::kIncomplete);
  FUZZ_CHECK(ParseResponseHead(input, method, limits, &head).status == ParseStatus::kDone);

  std::string client;
  WriteClientResponseHead(head, 1, head.keep_alive, &client);
  HeadLimits generous;
  generous.max_head = client.size();
  generous.max_headers = 2 * head.headers.size() + 2;
  ResponseHead again;
  FUZZ_CHECK(ParseResponseHead(client, method, generous, &again).status == ParseStatus::kDone);
  FUZZ_CHECK(again.head_size == client.size());
  FUZZ_CHECK(again.status == head.status);
  FUZZ_CHECK(again.body == head.body);
  FUZZ_CHECK(again.content_length == head.content_length);
  FUZZ_CHECK(again.keep_alive == head.keep_alive || head.version_minor == 0);
}

}  // namespace
}  // namespace outrigger::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using outrigger::http::HeadLimits;
  using outrigger::http::Method;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (Method method : {Method::kGet, Method::kHead}) {
    outrigger::http::ParseFor(input, method, HeadLimits{});
  }
  outrigger::http::ParseFor(input, Method::kGet, HeadLimits{.max_head = 120, .max_headers = 3});
  return 0;
}
