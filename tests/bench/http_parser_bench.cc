// Hot-path costs of the HTTP codec: parsing a realistic browser request head and a response
// head, writing the upstream head, and framing a chunked body.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "proxy/http/chunked_framer.h"
#include "proxy/http/head_writer.h"
#include "proxy/http/request_parser.h"
#include "proxy/http/response_parser.h"

namespace outrigger::http {
namespace {

// A Firefox navigation request, about 500 bytes.
constexpr std::string_view kBrowserRequest =
    "GET /products/outrigger-canoe?color=blue&size=6m HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;"
    "q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://shop.example.com/products?page=2\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=9f8e7d6c5b4a; cart=3; theme=dark\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "\r\n";

constexpr std::string_view kResponse =
    "HTTP/1.1 200 OK\r\n"
    "Date: Tue, 14 Nov 2023 08:12:31 GMT\r\n"
    "Server: nginx/1.22.1\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Length: 48213\r\n"
    "Cache-Control: private, max-age=0\r\n"
    "ETag: \"5f3a-60a1b2c3d4e5f\"\r\n"
    "Vary: Accept-Encoding\r\n"
    "Connection: keep-alive\r\n"
    "Keep-Alive: timeout=5\r\n"
    "\r\n";

void BM_ParseRequestHead(benchmark::State& state) {
  const HeadLimits limits;
  RequestHead head;
  for (auto _ : state) {
    ParseResult r = ParseRequestHead(kBrowserRequest, limits, &head);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(head.head_size);
  }
  if (ParseRequestHead(kBrowserRequest, limits, &head).status != ParseStatus::kDone) {
    state.SkipWithError("request did not parse");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBrowserRequest.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["head_bytes"] = static_cast<double>(kBrowserRequest.size());
}
BENCHMARK(BM_ParseRequestHead);

void BM_ParseResponseHead(benchmark::State& state) {
  const HeadLimits limits;
  ResponseHead head;
  for (auto _ : state) {
    ParseResult r = ParseResponseHead(kResponse, Method::kGet, limits, &head);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(head.head_size);
  }
  if (ParseResponseHead(kResponse, Method::kGet, limits, &head).status != ParseStatus::kDone) {
    state.SkipWithError("response did not parse");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kResponse.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseResponseHead);

void BM_WriteUpstreamRequestHead(benchmark::State& state) {
  RequestHead head;
  if (ParseRequestHead(kBrowserRequest, {}, &head).status != ParseStatus::kDone) {
    state.SkipWithError("request did not parse");
    return;
  }
  const ForwardedFor fwd{"203.0.113.7", "https"};
  std::string out;
  out.reserve(4096);
  for (auto _ : state) {
    out.clear();
    WriteUpstreamRequestHead(head, fwd, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_WriteUpstreamRequestHead);

void BM_WriteClientResponseHead(benchmark::State& state) {
  ResponseHead head;
  if (ParseResponseHead(kResponse, Method::kGet, {}, &head).status != ParseStatus::kDone) {
    state.SkipWithError("response did not parse");
    return;
  }
  std::string out;
  out.reserve(4096);
  for (auto _ : state) {
    out.clear();
    WriteClientResponseHead(head, 1, true, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_WriteClientResponseHead);

// A 64 KiB body in eight 8 KiB chunks, framed from one contiguous buffer the way the request
// path drives the framer (chunk data is skipped, framing lines are examined).
void BM_ChunkedFraming64KiB(benchmark::State& state) {
  std::string body;
  for (int i = 0; i < 8; ++i) {
    body += "2000\r\n";
    body.append(8 * 1024, 'x');
    body += "\r\n";
  }
  body += "0\r\n\r\n";
  const std::string_view input(body);
  ChunkedFramer framer;
  for (auto _ : state) {
    framer.Reset();
    size_t pos = 0;
    while (pos < input.size() && !framer.done()) {
      if (const uint64_t remaining = framer.data_remaining()) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining, input.size() - pos));
        framer.ConsumeData(n);
        pos += n;
        continue;
      }
      const ChunkedFramer::Step step =
          framer.Advance(input.substr(pos, ChunkedFramer::kMaxLineLength + 2));
      if (step.error || step.forward == 0) break;
      pos += step.forward;
    }
    benchmark::DoNotOptimize(pos);
  }
  if (!framer.done()) state.SkipWithError("body did not frame");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ChunkedFraming64KiB);

}  // namespace
}  // namespace outrigger::http
