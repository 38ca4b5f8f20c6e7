#include "proxy/http2/server_codec.h"

#include <event2/buffer.h>
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace outrigger::http2 {
namespace {

// Deterministic: nothing here runs a loop or a clock that matters. Bytes are shuttled by hand
// between the codec and either a real nghttp2 client session (the ordinary cases) or frames
// built byte by byte (the attacks, which no well-behaved client library will send).

using Fields = std::vector<std::pair<std::string, std::string>>;

struct EvBufferDeleter {
  void operator()(evbuffer* b) const { evbuffer_free(b); }
};
using EvBuffer = std::unique_ptr<evbuffer, EvBufferDeleter>;
EvBuffer NewBuffer() { return EvBuffer(evbuffer_new()); }

std::string Drain(evbuffer* b) {
  std::string s(evbuffer_get_length(b), '\0');
  evbuffer_remove(b, s.data(), s.size());
  return s;
}

nghttp2_nv Nv(const std::string& name, const std::string& value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

Fields With(Fields base, const Fields& more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

std::vector<nghttp2_nv> Nva(const Fields& fields) {
  std::vector<nghttp2_nv> nva;
  for (const auto& [n, v] : fields) nva.push_back(Nv(n, v));
  return nva;
}

const Fields kGet = {
    {":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", "/a?b=c"}};
const Fields kPost = {
    {":method", "POST"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", "/upload"}};

// ---- the owner: records every event, holds the response bodies ----

class Owner : public ServerCodecCallbacks {
 public:
  struct Head {
    std::string method, path, authority;
    Fields headers;
    bool end_stream;
  };
  void OnStreamHead(int32_t stream, http::RequestHead& head, bool end_stream) override {
    Head h{std::string(head.method_text),
           std::string(head.path),
           std::string(head.authority),
           {},
           end_stream};
    for (const http::Header& f : head.headers) h.headers.emplace_back(f.name, f.value);
    heads[stream] = std::move(h);
  }
  void OnStreamData(int32_t stream, const uint8_t* data, size_t size) override {
    body[stream].append(reinterpret_cast<const char*>(data), size);
  }
  void OnStreamEnd(int32_t stream, std::span<const http::Header> t) override {
    Fields& f = ended[stream];
    for (const http::Header& h : t) f.emplace_back(h.name, h.value);
  }
  void OnStreamClose(int32_t stream, uint32_t code) override {
    EXPECT_TRUE(heads.count(stream)) << "close without a head on " << stream;
    EXPECT_FALSE(closed.count(stream)) << "closed twice: " << stream;
    closed[stream] = code;
  }
  evbuffer* ResponseBody(int32_t stream) override {
    auto& b = responses[stream];
    if (!b) b = NewBuffer();
    return b.get();
  }

  std::map<int32_t, Head> heads;
  std::map<int32_t, std::string> body;
  std::map<int32_t, Fields> ended;
  std::map<int32_t, uint32_t> closed;
  std::map<int32_t, EvBuffer> responses;
};

// ---- a real nghttp2 client ----

class Client {
 public:
  struct Response {
    Fields fields, trailers;
    std::string body;
    bool closed = false;
    uint32_t close_code = 0;
  };
  struct Upload {
    explicit Upload(std::string d, Fields t = {}) : data(std::move(d)), trailers(std::move(t)) {}
    std::string data;
    size_t offset = 0;
    Fields trailers;
  };

  // `auto_window`: false to grant response windows only through Consume.
  explicit Client(bool auto_window = true, uint32_t stream_window = 0) {
    CallbacksPtr cbs = MakeCallbacks();
    nghttp2_session_callbacks_set_on_header_callback(cbs.get(), OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs.get(), OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs.get(), OnClose);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs.get(), OnFrame);
    OptionPtr opt = MakeOption();
    nghttp2_option_set_no_auto_window_update(opt.get(), auto_window ? 0 : 1);
    nghttp2_session* s = nullptr;
    EXPECT_EQ(nghttp2_session_client_new2(&s, cbs.get(), this, opt.get()), 0);
    session.reset(s);
    std::vector<nghttp2_settings_entry> iv;
    if (stream_window != 0) iv.push_back({NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, stream_window});
    nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv.data(), iv.size());
    if (stream_window != 0) {
      nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0, 1 << 30);
    }
  }

  int32_t Request(const Fields& fields, Upload* upload = nullptr) {
    std::vector<nghttp2_nv> nva = Nva(fields);
    nghttp2_data_provider dp{};
    dp.source.ptr = upload;
    dp.read_callback = ReadUpload;
    return nghttp2_submit_request(session.get(), nullptr, nva.data(), nva.size(),
                                  upload ? &dp : nullptr, nullptr);
  }

  // Client bytes into `to`.
  void Write(evbuffer* to) {
    for (;;) {
      const uint8_t* data;
      const ssize_t n = nghttp2_session_mem_send(session.get(), &data);
      ASSERT_GE(n, 0);
      if (n == 0) return;
      evbuffer_add(to, data, size_t(n));
    }
  }
  void Read(evbuffer* from) {
    const std::string bytes = Drain(from);
    ASSERT_EQ(nghttp2_session_mem_recv(
                  session.get(), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
              ssize_t(bytes.size()));
  }

  std::string Status(int32_t stream) {
    for (const auto& [n, v] : responses[stream].fields) {
      if (n == ":status") return v;
    }
    return "";
  }

  SessionPtr session;
  std::map<int32_t, Response> responses;
  bool goaway = false;
  uint32_t goaway_code = 0;

 private:
  static Client* Self(void* p) { return static_cast<Client*>(p); }
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* p) {
    Response& r = Self(p)->responses[frame->hd.stream_id];
    Fields& to = frame->headers.cat == NGHTTP2_HCAT_HEADERS && !r.fields.empty() &&
                         r.fields[0].second[0] != '1'
                     ? r.trailers
                     : r.fields;
    to.emplace_back(std::string(reinterpret_cast<const char*>(name), namelen),
                    std::string(reinterpret_cast<const char*>(value), valuelen));
    return 0;
  }
  static int OnData(nghttp2_session*, uint8_t, int32_t stream, const uint8_t* data, size_t len,
                    void* p) {
    Self(p)->responses[stream].body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }
  static int OnClose(nghttp2_session*, int32_t stream, uint32_t code, void* p) {
    Response& r = Self(p)->responses[stream];
    r.closed = true;
    r.close_code = code;
    return 0;
  }
  static int OnFrame(nghttp2_session*, const nghttp2_frame* frame, void* p) {
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      Self(p)->goaway = true;
      Self(p)->goaway_code = frame->goaway.error_code;
    }
    return 0;
  }
  static ssize_t ReadUpload(nghttp2_session* session, int32_t stream, uint8_t* buf, size_t length,
                            uint32_t* flags, nghttp2_data_source* source, void*) {
    auto* up = static_cast<Upload*>(source->ptr);
    const size_t n = std::min(length, up->data.size() - up->offset);
    std::memcpy(buf, up->data.data() + up->offset, n);
    up->offset += n;
    if (up->offset == up->data.size()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!up->trailers.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        std::vector<nghttp2_nv> nva = Nva(up->trailers);
        nghttp2_submit_trailer(session, stream, nva.data(), nva.size());
      }
    }
    return ssize_t(n);
  }
};

// ---- raw frames, for what a real client would not send ----

std::string Frame(uint8_t type, uint8_t flags, int32_t stream, std::string_view payload) {
  std::string f;
  const size_t n = payload.size();
  f += char(n >> 16), f += char(n >> 8), f += char(n);
  f += char(type), f += char(flags);
  f += char(stream >> 24), f += char(stream >> 16), f += char(stream >> 8), f += char(stream);
  f += payload;
  return f;
}

std::string Preface() {
  return std::string(NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN) +
         Frame(NGHTTP2_SETTINGS, 0, 0, "");
}

std::string Be32(uint32_t v) { return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }

std::string RstStream(int32_t stream, uint32_t code) {
  return Frame(NGHTTP2_RST_STREAM, 0, stream, Be32(code));
}

struct DeflaterDeleter {
  void operator()(nghttp2_hd_deflater* d) const { nghttp2_hd_deflate_del(d); }
};
struct InflaterDeleter {
  void operator()(nghttp2_hd_inflater* i) const { nghttp2_hd_inflate_del(i); }
};

// An HPACK encoder as a client's: its dynamic table carries over from block to block.
class Encoder {
 public:
  Encoder() {
    nghttp2_hd_deflater* d = nullptr;
    nghttp2_hd_deflate_new(&d, 4096);
    d_.reset(d);
  }
  std::string Block(const Fields& fields) {
    std::vector<nghttp2_nv> nva = Nva(fields);
    std::string out(nghttp2_hd_deflate_bound(d_.get(), nva.data(), nva.size()), '\0');
    const ssize_t n = nghttp2_hd_deflate_hd(d_.get(), reinterpret_cast<uint8_t*>(out.data()),
                                            out.size(), nva.data(), nva.size());
    EXPECT_GT(n, 0);
    out.resize(size_t(n));
    return out;
  }

 private:
  std::unique_ptr<nghttp2_hd_deflater, DeflaterDeleter> d_;
};

struct RawFrame {
  uint8_t type, flags;
  int32_t stream;
  std::string payload;
  uint32_t Code() const {  // RST_STREAM's, or GOAWAY's (after the last stream id)
    const size_t at = type == NGHTTP2_GOAWAY ? 4 : 0;
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = v << 8 | uint8_t(payload[at + i]);
    return v;
  }
};

std::vector<RawFrame> Parse(const std::string& bytes) {
  std::vector<RawFrame> frames;
  size_t at = 0;
  while (at + 9 <= bytes.size()) {
    auto b = [&](size_t i) { return uint32_t(uint8_t(bytes[at + i])); };
    const size_t len = b(0) << 16 | b(1) << 8 | b(2);
    const int32_t stream = int32_t((b(5) & 0x7f) << 24 | b(6) << 16 | b(7) << 8 | b(8));
    EXPECT_LE(at + 9 + len, bytes.size()) << "a frame cut short";
    frames.push_back({uint8_t(b(3)), uint8_t(b(4)), stream, bytes.substr(at + 9, len)});
    at += 9 + len;
  }
  EXPECT_EQ(at, bytes.size());
  return frames;
}

// Decodes the server's header blocks in order (the decoder's table carries over).
class Decoder {
 public:
  Decoder() {
    nghttp2_hd_inflater* i = nullptr;
    nghttp2_hd_inflate_new(&i);
    i_.reset(i);
  }
  Fields Block(const std::string& block) {
    Fields out;
    auto* in = reinterpret_cast<const uint8_t*>(block.data());
    size_t left = block.size();
    for (;;) {
      nghttp2_nv nv;
      int flags = 0;
      const ssize_t n = nghttp2_hd_inflate_hd2(i_.get(), &nv, &flags, in, left, 1);
      EXPECT_GE(n, 0);
      if (n < 0) break;
      in += n;
      left -= size_t(n);
      if (flags & NGHTTP2_HD_INFLATE_EMIT) {
        out.emplace_back(std::string(reinterpret_cast<char*>(nv.name), nv.namelen),
                         std::string(reinterpret_cast<char*>(nv.value), nv.valuelen));
      }
      if (flags & NGHTTP2_HD_INFLATE_FINAL) {
        nghttp2_hd_inflate_end_headers(i_.get());
        break;
      }
      if (n == 0 && left == 0) break;
    }
    return out;
  }

 private:
  std::unique_ptr<nghttp2_hd_inflater, InflaterDeleter> i_;
};

// ---- the fixture ----

class ServerCodecTest : public ::testing::Test {
 protected:
  // Moves bytes both ways until neither side has anything more to say.
  void Pump(Client& client, size_t high_water = 1 << 24) {
    for (int i = 0; i < 1000; ++i) {
      client.Write(c2s_.get());
      const bool sent = evbuffer_get_length(c2s_.get()) > 0;
      if (sent) codec_.Receive(c2s_.get());
      codec_.Send(s2c_.get(), high_water);
      const bool answered = evbuffer_get_length(s2c_.get()) > 0;
      if (answered) client.Read(s2c_.get());
      if (!sent && !answered) return;
    }
    FAIL() << "the two sides never went quiet";
  }

  // Raw client bytes in; the server's frames (all Send produces) out.
  std::vector<RawFrame> Raw(const std::string& bytes, bool* received = nullptr) {
    evbuffer_add(c2s_.get(), bytes.data(), bytes.size());
    const bool ok = codec_.Receive(c2s_.get());
    if (received != nullptr) *received = ok;
    codec_.Send(s2c_.get(), 1 << 24);
    return Parse(Drain(s2c_.get()));
  }

  static const RawFrame* Find(const std::vector<RawFrame>& frames, uint8_t type,
                              int32_t stream = -1) {
    for (const RawFrame& f : frames) {
      if (f.type == type && (stream < 0 || f.stream == stream)) return &f;
    }
    return nullptr;
  }

  http::ResponseHead Head(int status, std::vector<http::Header> headers = {}) {
    http::ResponseHead h;
    h.status = status;
    h.headers = std::move(headers);
    return h;
  }

  void Respond(int32_t stream, const std::string& body) {
    ASSERT_TRUE(codec_.SubmitResponse(stream, Head(200), true));
    evbuffer_add(owner_.ResponseBody(stream), body.data(), body.size());
    codec_.FinishResponse(stream);
  }

  Owner owner_;
  CodecLimits limits_;
  ServerCodec codec_{owner_, limits_};
  EvBuffer c2s_ = NewBuffer();
  EvBuffer s2c_ = NewBuffer();
};

TEST_F(ServerCodecTest, AGetBecomesTheTranslatedHeadAndItsResponseGoesBack) {
  Client client;
  const int32_t id = client.Request({{":method", "GET"},
                                     {":scheme", "https"},
                                     {":authority", "example.com"},
                                     {":path", "/a?b=c"},
                                     {"cookie", "a=1"},
                                     {"accept", "*/*"},
                                     {"cookie", "b=2"}});
  Pump(client);
  ASSERT_TRUE(owner_.heads.count(id));
  const Owner::Head& h = owner_.heads[id];
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.path, "/a?b=c");
  EXPECT_EQ(h.authority, "example.com");
  EXPECT_TRUE(h.end_stream);
  EXPECT_EQ(h.headers, (Fields{{"cookie", "a=1; b=2"}, {"accept", "*/*"}}));
  EXPECT_FALSE(owner_.ended.count(id)) << "a head that ended the stream gets no OnStreamEnd";

  // HTTP/1 fields: names lowercased, hop-by-hop ones (and those Connection names) dropped.
  ASSERT_TRUE(codec_.SubmitResponse(id,
                                    Head(200, {{"Content-Type", "text/plain"},
                                               {"Connection", "keep-alive, X-Hop"},
                                               {"Keep-Alive", "timeout=5"},
                                               {"X-Hop", "1"},
                                               {"Transfer-Encoding", "chunked"},
                                               {"X-End", "2"}}),
                                    true));
  evbuffer_add(owner_.ResponseBody(id), "hello", 5);
  codec_.FinishResponse(id);
  Pump(client);
  EXPECT_EQ(client.responses[id].fields,
            (Fields{{":status", "200"}, {"content-type", "text/plain"}, {"x-end", "2"}}));
  EXPECT_EQ(client.responses[id].body, "hello");
  EXPECT_TRUE(client.responses[id].closed);
  EXPECT_EQ(client.responses[id].close_code, NGHTTP2_NO_ERROR);
  ASSERT_TRUE(owner_.closed.count(id));
  EXPECT_EQ(owner_.closed[id], NGHTTP2_NO_ERROR);
  EXPECT_EQ(codec_.open_streams(), 0u);
}

TEST_F(ServerCodecTest, ARequestBodyStopsAtTheStreamWindowUntilTheOwnerConsumes) {
  Client client;
  Client::Upload up{std::string(200 * 1024, 'x')};
  const int32_t id = client.Request(kPost, &up);
  Pump(client);
  ASSERT_TRUE(owner_.heads.count(id));
  EXPECT_FALSE(owner_.heads[id].end_stream);
  // 64 KiB: our SETTINGS_INITIAL_WINDOW_SIZE, and no WINDOW_UPDATE without Consume.
  EXPECT_EQ(owner_.body[id].size(), 64u * 1024);
  Pump(client);
  EXPECT_EQ(owner_.body[id].size(), 64u * 1024);

  codec_.Consume(id, 64 * 1024);
  Pump(client);
  EXPECT_EQ(owner_.body[id].size(), 128u * 1024);
  while (!owner_.ended.count(id) && owner_.body[id].size() < up.data.size()) {
    codec_.Consume(id, 64 * 1024);
    Pump(client);
  }
  EXPECT_EQ(owner_.body[id], up.data);
  EXPECT_TRUE(owner_.ended.count(id));
  EXPECT_TRUE(owner_.ended[id].empty());
}

TEST_F(ServerCodecTest, TheConnectionWindowCapsAllStreamsTogether) {
  Client client;
  std::vector<Client::Upload> ups(20, Client::Upload{std::string(64 * 1024, 'y')});
  for (auto& up : ups) client.Request(kPost, &up);
  Pump(client);
  size_t total = 0;
  for (const auto& [id, b] : owner_.body) total += b.size();
  EXPECT_EQ(total, 1024u * 1024) << "20 x 64 KiB offered, 1 MiB connection window";
}

TEST_F(ServerCodecTest, AClosedStreamsUnconsumedBytesReturnToTheConnection) {
  Client client;
  std::vector<Client::Upload> ups(16, Client::Upload{std::string(128 * 1024, 'z')});
  std::vector<int32_t> ids;
  for (auto& up : ups) ids.push_back(client.Request(kPost, &up));
  Pump(client);
  size_t total = 0;
  for (const auto& [id, b] : owner_.body) total += b.size();
  ASSERT_EQ(total, 1024u * 1024);  // the connection window is spent
  for (int32_t id : ids) nghttp2_submit_rst_stream(client.session.get(), 0, id, NGHTTP2_CANCEL);
  Pump(client);
  for (int32_t id : ids) EXPECT_EQ(owner_.closed[id], NGHTTP2_CANCEL);

  Client::Upload more{std::string(64 * 1024, 'w')};
  const int32_t next = client.Request(kPost, &more);
  Pump(client);
  EXPECT_EQ(owner_.body[next].size(), 64u * 1024) << "the reset streams' bytes were returned";
}

TEST_F(ServerCodecTest, AResponseBodyWaitsForTheClientsWindowUpdate) {
  Client client(/*auto_window=*/false);
  const int32_t id = client.Request(kGet);
  Pump(client);
  const std::string body(200 * 1024, 'r');
  Respond(id, body);
  Pump(client);
  // The client's default window: 65,535 bytes, the rest stays in the owner's buffer.
  EXPECT_EQ(client.responses[id].body.size(), 65535u);
  EXPECT_EQ(evbuffer_get_length(owner_.responses[id].get()), body.size() - 65535);
  nghttp2_session_consume(client.session.get(), id, 65535);
  Pump(client);
  EXPECT_EQ(client.responses[id].body.size(), 2u * 65535);
  while (!client.responses[id].closed) {
    const size_t before = client.responses[id].body.size();
    nghttp2_session_consume(client.session.get(), id, 65535);
    Pump(client);
    ASSERT_GT(client.responses[id].body.size(), before);
  }
  EXPECT_EQ(client.responses[id].body, body);
}

TEST_F(ServerCodecTest, SendStopsAtTheHighWaterMarkAndResumes) {
  Client client(true, 1 << 30);
  const int32_t id = client.Request(kGet);
  Pump(client);
  const std::string body(1024 * 1024, 'h');
  Respond(id, body);
  constexpr size_t kHighWater = 32 * 1024;
  // One DATA frame (16 KiB + 9) may cross the mark; then Send stops.
  ASSERT_TRUE(codec_.Send(s2c_.get(), kHighWater));
  size_t out = evbuffer_get_length(s2c_.get());
  EXPECT_GE(out, kHighWater);
  EXPECT_LE(out, kHighWater + 16 * 1024 + 9);
  ASSERT_TRUE(codec_.Send(s2c_.get(), kHighWater));
  EXPECT_EQ(evbuffer_get_length(s2c_.get()), out) << "nothing more while over the mark";
  EXPECT_GT(evbuffer_get_length(owner_.responses[id].get()), body.size() - out);

  int rounds = 0;
  while (!client.responses[id].closed && rounds++ < 1000) {
    client.Read(s2c_.get());
    client.Write(c2s_.get());
    codec_.Receive(c2s_.get());
    codec_.Send(s2c_.get(), kHighWater);
    EXPECT_LE(evbuffer_get_length(s2c_.get()), kHighWater + 16 * 1024 + 64);
  }
  EXPECT_EQ(client.responses[id].body, body);
}

TEST_F(ServerCodecTest, ADeferredBodyResumesWhenTheOwnerAddsBytes) {
  Client client;
  const int32_t id = client.Request(kGet);
  Pump(client);
  ASSERT_TRUE(codec_.SubmitResponse(id, Head(200), true));
  Pump(client);
  EXPECT_EQ(client.Status(id), "200");
  EXPECT_FALSE(client.responses[id].closed);
  evbuffer_add(owner_.ResponseBody(id), "part", 4);
  codec_.ResumeData(id);
  Pump(client);
  EXPECT_EQ(client.responses[id].body, "part");
  EXPECT_FALSE(client.responses[id].closed);
  codec_.FinishResponse(id);
  Pump(client);
  EXPECT_TRUE(client.responses[id].closed);
}

TEST_F(ServerCodecTest, TrailersGoBothWays) {
  Client client;
  Client::Upload up("request body", {{"x-checksum", "abc"}});
  const int32_t id = client.Request(With(kPost, {{"te", "trailers"}}), &up);
  Pump(client);
  ASSERT_TRUE(owner_.ended.count(id));
  EXPECT_EQ(owner_.ended[id], (Fields{{"x-checksum", "abc"}}));
  EXPECT_EQ(owner_.body[id], "request body");

  ASSERT_TRUE(codec_.SubmitResponse(id, Head(200, {{"Content-Type", "application/grpc"}}), true));
  evbuffer_add(owner_.ResponseBody(id), "payload", 7);
  codec_.SubmitTrailers(id, std::vector<http::Header>{{"Grpc-Status", "0"}, {"grpc-message", ""}});
  Pump(client);
  EXPECT_EQ(client.responses[id].body, "payload");
  EXPECT_EQ(client.responses[id].trailers, (Fields{{"grpc-status", "0"}, {"grpc-message", ""}}));
  EXPECT_TRUE(client.responses[id].closed);
}

TEST_F(ServerCodecTest, InformationalResponsesPrecedeTheFinalOne) {
  Client client;
  const int32_t id = client.Request(kGet);
  Pump(client);
  ASSERT_TRUE(codec_.SubmitResponse(id, Head(103, {{"Link", "</s.css>; rel=preload"}}), false));
  Respond(id, "ok");
  Pump(client);
  EXPECT_EQ(client.responses[id].fields,
            (Fields{{":status", "103"}, {"link", "</s.css>; rel=preload"}, {":status", "200"}}));
  EXPECT_EQ(client.responses[id].body, "ok");
  EXPECT_TRUE(client.responses[id].closed);
}

TEST_F(ServerCodecTest, RequestTrailersOverTheLimitResetTheStream) {
  Client client;
  Fields many;
  for (int i = 0; i < 101; ++i) many.emplace_back("x-t" + std::to_string(i), "v");
  Client::Upload up("body", many);
  const int32_t id = client.Request(kPost, &up);
  Pump(client);
  ASSERT_TRUE(owner_.heads.count(id));
  EXPECT_FALSE(owner_.ended.count(id));
  EXPECT_EQ(owner_.closed[id], NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(client.responses[id].close_code, NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(codec_.stats().headers_too_large, 1u);
}

TEST_F(ServerCodecTest, AHeaderListOver32KiBIsAnswered431) {
  Client client;
  const int32_t big = client.Request(With(kGet, {{"x-big", std::string(33 * 1024, 'b')}}));
  Fields many = kGet;
  for (int i = 0; i < 101; ++i) many.emplace_back("x-f" + std::to_string(i), "v");
  const int32_t wide = client.Request(many);
  const int32_t fine = client.Request(With(kGet, {{"x-big", std::string(31 * 1024, 'b')}}));
  Pump(client);
  EXPECT_EQ(client.Status(big), "431");
  EXPECT_EQ(client.Status(wide), "431");
  EXPECT_FALSE(owner_.heads.count(big));
  EXPECT_FALSE(owner_.heads.count(wide));
  EXPECT_TRUE(owner_.heads.count(fine));
  EXPECT_EQ(codec_.stats().headers_too_large, 2u);
}

TEST_F(ServerCodecTest, ARefusedRequestsBodyIsNotChargedToTheConnection) {
  Client client;
  std::vector<Client::Upload> ups(20, Client::Upload(std::string(64 * 1024, 'q')));
  std::vector<int32_t> ids;
  for (auto& up : ups) {
    ids.push_back(client.Request(With(kPost, {{"x-big", std::string(33 * 1024, 'b')}}), &up));
  }
  Pump(client);
  for (int32_t id : ids) EXPECT_EQ(client.Status(id), "431");
  EXPECT_TRUE(owner_.heads.empty());
  // Whatever of those bodies arrived was consumed at once: a stream still gets its window.
  Client::Upload more(std::string(64 * 1024, 'w'));
  const int32_t next = client.Request(kPost, &more);
  Pump(client);
  EXPECT_EQ(owner_.body[next].size(), 64u * 1024);
}

TEST_F(ServerCodecTest, AMalformedHeadIsAnswered400WithoutReachingTheOwner) {
  Client client;
  // RFC 9113 §8.3.1: Host must agree with :authority (nghttp2 does not check this one).
  const int32_t id = client.Request(With(kGet, {{"host", "other.example"}}));
  Pump(client);
  EXPECT_EQ(client.Status(id), "400");
  EXPECT_TRUE(owner_.heads.empty());
  EXPECT_EQ(codec_.stats().malformed_requests, 1u);
}

TEST_F(ServerCodecTest, TheOwnersResetReachesTheClient) {
  Client client;
  const int32_t id = client.Request(kGet);
  Pump(client);
  codec_.ResetStream(id, NGHTTP2_INTERNAL_ERROR);
  Pump(client);
  EXPECT_EQ(client.responses[id].close_code, NGHTTP2_INTERNAL_ERROR);
  EXPECT_EQ(owner_.closed[id], NGHTTP2_INTERNAL_ERROR);
}

TEST_F(ServerCodecTest, AGracefulGoawayLetsOpenStreamsFinish) {
  Client client;
  const int32_t id = client.Request(kGet);
  Pump(client);
  codec_.Goaway(NGHTTP2_NO_ERROR);
  Pump(client);
  EXPECT_TRUE(client.goaway);
  Respond(id, "late");
  Pump(client);
  EXPECT_EQ(client.responses[id].body, "late");
  EXPECT_EQ(owner_.closed[id], NGHTTP2_NO_ERROR);
  // GOAWAY sent and no stream left: the connection is done.
  EXPECT_FALSE(codec_.WantsRead());
  EXPECT_FALSE(codec_.WantsWrite());
}

// ---- attacks, in raw frames ----

class ServerCodecAttackTest : public ServerCodecTest {
 protected:
  std::string Headers(int32_t stream, const Fields& fields, bool end_stream = true) {
    return Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | (end_stream ? 1 : 0), stream,
                 encoder_.Block(fields));
  }
  Encoder encoder_;
  Decoder decoder_;
};

TEST_F(ServerCodecAttackTest, TheHundredAndFirstConcurrentStreamIsRefused) {
  std::string bytes = Preface();
  for (int32_t i = 0; i < 101; ++i) bytes += Headers(1 + 2 * i, kGet);
  const auto frames = Raw(bytes);
  EXPECT_EQ(owner_.heads.size(), 100u);
  const RawFrame* rst = Find(frames, NGHTTP2_RST_STREAM);
  ASSERT_NE(rst, nullptr);
  EXPECT_EQ(rst->stream, 201);
  EXPECT_EQ(rst->Code(), NGHTTP2_REFUSED_STREAM);
  EXPECT_EQ(codec_.stats().streams_refused, 1u);
  EXPECT_EQ(codec_.open_streams(), 100u);

  // A finished stream frees its slot for the next one.
  Respond(1, "");
  Raw("");
  Raw(Headers(203, kGet));
  EXPECT_TRUE(owner_.heads.count(203));
}

TEST_F(ServerCodecAttackTest, ARefusedHeadWithABodyToComeIsAnsweredThenReset) {
  Fields many = kPost;
  for (int i = 0; i < 101; ++i) many.emplace_back("x-f" + std::to_string(i), "v");
  const auto frames = Raw(Preface() + Headers(1, many, /*end_stream=*/false));
  const RawFrame* headers = Find(frames, NGHTTP2_HEADERS, 1);
  ASSERT_NE(headers, nullptr);
  EXPECT_EQ(decoder_.Block(headers->payload), (Fields{{":status", "431"}}));
  EXPECT_TRUE(headers->flags & NGHTTP2_FLAG_END_STREAM);
  const RawFrame* rst = Find(frames, NGHTTP2_RST_STREAM, 1);
  ASSERT_NE(rst, nullptr) << "the client is told to stop sending its body";
  EXPECT_EQ(rst->Code(), NGHTTP2_NO_ERROR);
  EXPECT_GT(rst, headers) << "after the response, or the response is lost";
}

TEST_F(ServerCodecAttackTest, PastAcknowledgedSettingsTooManyStreamsEndTheConnection) {
  std::string bytes = Preface() + Frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, "");
  for (int32_t i = 0; i < 101; ++i) bytes += Headers(1 + 2 * i, kGet);
  const auto frames = Raw(bytes);
  EXPECT_EQ(owner_.heads.size(), 100u);
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_EQ(codec_.stats().protocol_errors, 1u);
}

TEST_F(ServerCodecAttackTest, AnUndecodableHeaderBlockEndsWithGoaway) {
  // Index 0 is not a valid HPACK index (RFC 7541 §6.1).
  const auto frames =
      Raw(Preface() + Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1,
                            std::string("\x80", 1)));
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_COMPRESSION_ERROR);
  EXPECT_EQ(codec_.stats().hpack_errors, 1u);
  EXPECT_TRUE(owner_.heads.empty());
}

TEST_F(ServerCodecAttackTest, EightContinuationsAreServedANinthEndsWithGoaway) {
  const std::string block = encoder_.Block(With(kGet, {{"x-a", std::string(90, 'a')}}));
  auto split = [&](int32_t stream, int continuations) {
    const size_t piece = block.size() / (continuations + 1);
    std::string out =
        Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, stream, block.substr(0, piece));
    for (int i = 1; i <= continuations; ++i) {
      const bool last = i == continuations;
      out += Frame(NGHTTP2_CONTINUATION, last ? NGHTTP2_FLAG_END_HEADERS : 0, stream,
                   block.substr(piece * i, last ? std::string::npos : piece));
    }
    return out;
  };
  bool ok = false;
  Raw(Preface() + split(1, 8), &ok);
  EXPECT_TRUE(ok);
  EXPECT_TRUE(owner_.heads.count(1));

  const std::string block2 = encoder_.Block(With(kGet, {{"x-a", std::string(90, 'a')}}));
  std::string flood = Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 3, "");
  for (int i = 0; i < 9; ++i) flood += Frame(NGHTTP2_CONTINUATION, 0, 3, "");
  flood += Frame(NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 3, block2);
  const auto frames = Raw(flood, &ok);
  EXPECT_FALSE(ok);
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_EQ(codec_.stats().continuation_floods, 1u);
  EXPECT_FALSE(owner_.heads.count(3));
  EXPECT_FALSE(codec_.WantsRead());
  EXPECT_FALSE(codec_.WantsWrite());
}

TEST_F(ServerCodecAttackTest, RapidResetEndsWithGoawayAndIsCounted) {
  std::string bytes = Preface();
  for (int32_t i = 0; i < 5000; ++i) {
    bytes += Headers(1 + 2 * i, kGet) + RstStream(1 + 2 * i, NGHTTP2_CANCEL);
  }
  const auto frames = Raw(bytes);
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(codec_.stats().rapid_resets, 1u);
  // The burst of 1,000 (plus what a second's refill may add) and no more reached the owner.
  EXPECT_GE(owner_.heads.size(), 1000u);
  EXPECT_LE(owner_.heads.size(), 1100u);
  EXPECT_EQ(owner_.closed.size(), owner_.heads.size());
  EXPECT_FALSE(codec_.WantsRead());
}

TEST_F(ServerCodecAttackTest, ResetsTheClientProvokesEndWithGoaway) {
  // MadeYouReset: each stream is valid, then made to fail by a WINDOW_UPDATE that overflows
  // its window, so nghttp2 resets it (FLOW_CONTROL_ERROR) without the client sending RST.
  std::string bytes = Preface();
  for (int32_t i = 0; i < 1500; ++i) {
    const int32_t id = 1 + 2 * i;
    bytes += Headers(id, kGet) + Frame(NGHTTP2_WINDOW_UPDATE, 0, id, Be32(0x7fffffff));
  }
  const auto frames = Raw(bytes);
  ASSERT_NE(Find(frames, NGHTTP2_RST_STREAM), nullptr);
  EXPECT_EQ(Find(frames, NGHTTP2_RST_STREAM)->Code(), NGHTTP2_FLOW_CONTROL_ERROR);
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(codec_.stats().local_reset_floods, 1u);
  EXPECT_EQ(codec_.stats().rapid_resets, 0u);
  EXPECT_LE(owner_.heads.size(), 1100u);
}

TEST_F(ServerCodecAttackTest, AnHpackBombIsBoundedByTheListSize) {
  // One 4,000-byte field enters the dynamic table (literal, incremental indexing), then one
  // byte per repetition (index 62) asks for it again: 1,000 x 4 KiB decoded from ~5 KB.
  std::string block = encoder_.Block(kGet);
  block += '\x40';
  block += char(6) + std::string("x-bomb");
  block += "\x7f\xa1\x1e";  // 4,000 as a 7-bit-prefix integer: 127 + 3873
  block += std::string(4000, 'B');
  block += std::string(1000, '\xbe');
  const auto frames =
      Raw(Preface() +
          Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1, block));
  EXPECT_TRUE(owner_.heads.empty());
  EXPECT_EQ(codec_.stats().headers_too_large, 1u);
  const RawFrame* headers = Find(frames, NGHTTP2_HEADERS, 1);
  ASSERT_NE(headers, nullptr);
  EXPECT_EQ(decoder_.Block(headers->payload), (Fields{{":status", "431"}}));
}

TEST_F(ServerCodecAttackTest, APingFloodEndsWithGoaway) {
  std::string bytes = Preface();
  for (int i = 0; i < 1100; ++i) bytes += Frame(NGHTTP2_PING, 0, 0, std::string(8, 'p'));
  bool ok = true;
  const auto frames = Raw(bytes, &ok);
  EXPECT_FALSE(ok);
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(codec_.stats().control_floods, 1u);
}

TEST_F(ServerCodecAttackTest, EmptyDataFramesInARowEndWithGoaway) {
  bool ok = false;
  // One empty frame between payloads is tolerated, as is an empty one that ends the stream.
  Raw(Preface() + Headers(1, kPost, false) + Frame(NGHTTP2_DATA, 0, 1, "a") +
          Frame(NGHTTP2_DATA, 0, 1, "") + Frame(NGHTTP2_DATA, 0, 1, "b") +
          Frame(NGHTTP2_DATA, 0, 1, "") + Frame(NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1, ""),
      &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(owner_.body[1], "ab");
  EXPECT_TRUE(owner_.ended.count(1));

  const auto frames =
      Raw(Headers(3, kPost, false) + Frame(NGHTTP2_DATA, 0, 3, "") + Frame(NGHTTP2_DATA, 0, 3, ""),
          &ok);
  EXPECT_FALSE(ok);
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(codec_.stats().empty_frame_floods, 1u);
  EXPECT_EQ(owner_.closed[3], NGHTTP2_ENHANCE_YOUR_CALM) << "the owner hears of the stream";
}

TEST_F(ServerCodecAttackTest, ASettingsFrameWithTooManyEntriesEndsWithGoaway) {
  std::string entries;
  for (int i = 0; i < 33; ++i) entries += std::string("\x00\x03", 2) + Be32(100);
  const auto frames = Raw(Preface() + Frame(NGHTTP2_SETTINGS, 0, 0, entries));
  ASSERT_NE(Find(frames, NGHTTP2_GOAWAY), nullptr);
  EXPECT_EQ(codec_.stats().settings_floods, 1u);
}

TEST_F(ServerCodecAttackTest, AMissingClientPrefaceIsAnError) {
  bool ok = true;
  const auto frames = Raw("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(codec_.stats().protocol_errors, 1u);
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_FALSE(codec_.WantsRead());
  EXPECT_FALSE(codec_.WantsWrite());
  EXPECT_TRUE(owner_.heads.empty());
}

}  // namespace
}  // namespace outrigger::http2
