// The harness of the ClientCodec tests: an owner that records every event and holds the
// request bodies, and a fixture that wires a ClientCodec to an in-process ServerCodec (bytes
// from one fed to the other by hand) or to raw frames, for a backend that breaks the rules.
#pragma once

#include <event2/buffer.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/http2/client_codec.h"
#include "proxy/http2/server_codec.h"
#include "server_codec_fixture.h"

namespace outrigger::http2 {

class Requester : public ClientCodecCallbacks {
 public:
  struct Head {
    int status;
    Fields fields;
    bool end_stream;
    http::BodyKind body;
    uint64_t content_length;
  };
  struct Close {
    uint32_t code;
    bool retryable;
  };
  void OnResponseHead(int32_t stream, const http::ResponseHead& h, bool end_stream) override {
    ExpectOpen(stream);
    Head head{h.status, {}, end_stream, h.body, h.content_length};
    for (const http::Header& f : h.headers) head.fields.emplace_back(f.name, f.value);
    heads[stream].push_back(std::move(head));
  }
  void OnResponseData(int32_t stream, const uint8_t* data, size_t size) override {
    ExpectOpen(stream);
    body[stream].append(reinterpret_cast<const char*>(data), size);
    if (on_data) on_data(stream, size);
  }
  void OnResponseEnd(int32_t stream, std::span<const http::Header> trailers) override {
    ExpectOpen(stream);
    EXPECT_FALSE(ended.count(stream)) << "ended twice: " << stream;
    Fields& f = ended[stream];
    for (const http::Header& h : trailers) f.emplace_back(h.name, h.value);
  }
  void OnStreamClose(int32_t stream, uint32_t code, bool retryable) override {
    EXPECT_FALSE(closed.count(stream)) << "closed twice: " << stream;
    closed[stream] = {code, retryable};
    if (on_close) on_close(stream, retryable);
  }
  void OnGoaway(int32_t last_stream_id, uint32_t code) override {
    goaways.emplace_back(last_stream_id, code);
  }
  evbuffer* RequestBody(int32_t stream) override {
    auto& b = requests[stream];
    if (!b) b = NewBuffer();
    return b.get();
  }

  std::function<void(int32_t, size_t)> on_data;
  std::function<void(int32_t, bool)> on_close;
  std::map<int32_t, std::vector<Head>> heads;
  std::map<int32_t, std::string> body;
  std::map<int32_t, Fields> ended;
  std::map<int32_t, Close> closed;
  std::vector<std::pair<int32_t, uint32_t>> goaways;
  std::map<int32_t, EvBuffer> requests;

 private:
  void ExpectOpen(int32_t stream) const {
    EXPECT_FALSE(closed.count(stream)) << "an event for " << stream << " after its close";
  }
};

class ClientCodecTest : public ::testing::Test {
 protected:
  // Makes both codecs with the limits the test has set.
  void Start() {
    server_ = std::make_unique<ServerCodec>(owner_, server_limits_);
    client_ = std::make_unique<ClientCodec>(requester_, client_limits_);
  }

  // Moves bytes both ways until neither side has anything more to say.
  void Pump(size_t high_water = 1 << 24) {
    for (int i = 0; i < 1000; ++i) {
      client_->Send(c2s_.get(), high_water);
      const bool sent = evbuffer_get_length(c2s_.get()) > 0;
      if (sent) server_->Receive(c2s_.get());
      server_->Send(s2c_.get(), high_water);
      const bool answered = evbuffer_get_length(s2c_.get()) > 0;
      if (answered) client_->Receive(s2c_.get());
      if (!sent && !answered) return;
    }
    FAIL() << "the two sides never went quiet";
  }

  // Views into `extra` and literals: the caller keeps them alive.
  static http::RequestHead Request(std::string_view method, std::string_view path,
                                   std::vector<http::Header> extra = {}) {
    http::RequestHead h;
    h.method_text = method;
    h.method = method == "GET"    ? http::Method::kGet
               : method == "POST" ? http::Method::kPost
                                  : http::Method::kOther;
    h.target = h.path = path;
    h.authority = "backend.test";
    h.headers = {{"Host", "backend.test"}};
    h.headers.insert(h.headers.end(), extra.begin(), extra.end());
    return h;
  }

  int32_t Get(std::string_view path = "/") {
    return client_->SubmitRequest(Request("GET", path), "https", false);
  }

  static http::ResponseHead Head(int status, std::vector<http::Header> headers = {}) {
    http::ResponseHead h;
    h.status = status;
    h.headers = std::move(headers);
    return h;
  }

  void Respond(int32_t stream, const std::string& body) {
    ASSERT_TRUE(server_->SubmitResponse(stream, Head(200), true));
    evbuffer_add(owner_.ResponseBody(stream), body.data(), body.size());
    server_->FinishResponse(stream);
  }

  Owner owner_;
  Requester requester_;
  CodecLimits server_limits_, client_limits_;
  std::unique_ptr<ServerCodec> server_;
  std::unique_ptr<ClientCodec> client_;
  EvBuffer c2s_ = NewBuffer();
  EvBuffer s2c_ = NewBuffer();
};

// A backend written frame by frame, for what no server library sends.
class ClientCodecHostileTest : public ClientCodecTest {
 protected:
  // Starts the client alone and reads its preface; the backend answers with empty SETTINGS
  // and acknowledges the client's, which take effect only then (windows, no push).
  void StartRaw() {
    client_ = std::make_unique<ClientCodec>(requester_, client_limits_);
    ASSERT_TRUE(client_->Send(c2s_.get(), 1 << 24));
    const std::string preface = Drain(c2s_.get());
    ASSERT_EQ(preface.substr(0, NGHTTP2_CLIENT_MAGIC_LEN),
              std::string(NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN));
    ASSERT_TRUE(
        Feed(Frame(NGHTTP2_SETTINGS, 0, 0, "") + Frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, "")));
  }
  // Backend bytes in; whether Receive took them without a connection error.
  bool Feed(const std::string& bytes) {
    evbuffer_add(s2c_.get(), bytes.data(), bytes.size());
    return client_->Receive(s2c_.get());
  }
  // The client's frames, all Send produces.
  std::vector<RawFrame> Out() {
    client_->Send(c2s_.get(), 1 << 24);
    return Parse(Drain(c2s_.get()));
  }
  std::string Headers(int32_t stream, const Fields& fields, bool end_stream = true) {
    return Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | (end_stream ? 1 : 0), stream,
                 encoder_.Block(fields));
  }
  // A copy: `frames` is often Out()'s temporary.
  static std::optional<RawFrame> Find(const std::vector<RawFrame>& frames, uint8_t type) {
    for (const RawFrame& f : frames) {
      if (f.type == type) return f;
    }
    return std::nullopt;
  }
  Encoder encoder_;
};

}  // namespace outrigger::http2
