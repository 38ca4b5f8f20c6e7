// Fuzzes the request path whole over HTTP/1: the shared worker harness (worker_harness.h: a
// real forward::Worker between scripted clients and scripted backends, the loop stepped by
// hand) with clients that speak HTTP/1 — raw bytes, canned requests (kRequests), bulk
// bodies. The input is the harness's knobs, then its script; fuzz/request_path_seeds.py
// writes the seed corpus in that format.
//
// What a run checks beyond the sanitizers: once every peer has gone, the worker holds no
// connection, and no descriptor outlives the input.
#include <cstddef>
#include <cstdint>
#include <iterator>

#include "fuzz/worker_harness.h"

namespace outrigger::forward::harness {
namespace {

constexpr const char* kRequests[] = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "GET /chat HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    "GET /b/ HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6\r\nCookie: c=1\r\nX-Key: k\r\n\r\n",
    "GET / HTTP/1.0\r\n\r\n",
    "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 300000\r\nExpect: 100-continue\r\n\r\n",
    "GET /api/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    "GET / HTTP/1.1\nHost: a\n\n",
    "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c, websocket\r\nConnection: upgrade\r\n\r\n",
};

// One action: kClientCanned (client, which of kRequests) here, the rest the harness's.
void Do(Harness& h, Reader& in) {
  const uint8_t op = in.Byte() % kOpCount;
  if (op != kClientCanned) {
    h.Do(op, in);
    return;
  }
  Peer& c = h.Client(in.Byte());
  c.Send(kRequests[in.Byte() % std::size(kRequests)]);
  h.Step();
}

void RunOne(const uint8_t* data, size_t size) {
  Reader in(data, size);
  Harness h(Knobs::Read(in), /*h2c=*/false);
  for (size_t i = 0; i < kMaxActions && !in.done(); ++i) Do(h, in);
  h.Finish();
}

}  // namespace
}  // namespace outrigger::forward::harness

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  return outrigger::forward::harness::Initialize(outrigger::forward::harness::RunOne);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return outrigger::forward::harness::TestOneInput(outrigger::forward::harness::RunOne, data, size);
}
