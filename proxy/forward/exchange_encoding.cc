// A response whose body a plugin encodes (compress): the backend's framing is decoded by the
// body pump, the encoder's output goes to the client as its session frames it (HTTP/1:
// chunks). Each piece the backend sends is encoded and sent on at once (the encoder flushes),
// so a streamed response stays one.
#include <spdlog/spdlog.h>

#include "proxy/forward/exchange.h"
#include "proxy/forward/forward_internal.h"

namespace outrigger::forward {

using namespace internal;  // forward_internal.h

namespace {
constexpr size_t kEncodedReadSize = 8 * net::Stream::kReadSize;
}  // namespace

void Exchange::StartResponseEncoding() {
  // The client's framing is the session's (SendResponseHead sees the encoder); `response`
  // keeps the backend's, which the pump decodes.
  for (net::EvBufferPtr* b : {&decoded_body, &encoded_body}) {
    if (*b == nullptr) {
      b->reset(evbuffer_new());
    } else {  // what a response cut short left
      evbuffer_drain(b->get(), evbuffer_get_length(b->get()));
    }
  }
  encoded_bytes = 0;
  // Each read is encoded and flushed: eight times fewer of them on a fast backend, for less
  // CPU per MiB than nginx (scripts/bench --compress). Back to the default when it ends.
  if (attempt_.connection()) attempt_.connection()->stream().SetReadSize(kEncodedReadSize);
}

bool Exchange::EncodeResponseBody(bool last) {
  evbuffer* decoded = decoded_body.get();
  if (!last && evbuffer_get_length(decoded) == 0) return true;
  evbuffer* encoded = encoded_body.get();
  if (absl::Status s = plugins.encoder()->Encode(decoded, encoded, last); !s.ok()) {
    spdlog::error("encoding a response body: {}", std::string(s.message()));
    session_->ResetClient(*this);  // the client has the head: all that can be done is a cut
    return false;
  }
  encoded_bytes += session_->PushEncodedBody(*this, encoded, last);
  if (last) {
    if (attempt_.connection()) attempt_.connection()->stream().SetReadSize(net::Stream::kReadSize);
    plugins.EndBody();
  }
  return true;
}

uint64_t Exchange::ResponseBodyBytesSent() const {
  return encoded_bytes != 0 ? encoded_bytes : response_body.moved();
}

}  // namespace outrigger::forward
