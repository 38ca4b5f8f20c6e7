// The harness of the ServerCodec tests: an owner that records every event, a real nghttp2
// client, raw frames and HPACK blocks for what no client library sends, and the fixtures that
// shuttle bytes between them by hand.
#pragma once

#include <event2/buffer.h>
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proxy/http2/server_codec.h"

namespace outrigger::http2 {

// Deterministic: nothing here runs a loop or a clock that matters. Bytes are shuttled by hand
// between the codec and either a real nghttp2 client session (the ordinary cases) or frames
// built byte by byte (the attacks, which no well-behaved client library will send).

using Fields = std::vector<std::pair<std::string, std::string>>;

struct EvBufferDeleter {
  void operator()(evbuffer* b) const { evbuffer_free(b); }
};
using EvBuffer = std::unique_ptr<evbuffer, EvBufferDeleter>;
inline EvBuffer NewBuffer() { return EvBuffer(evbuffer_new()); }

inline std::string Drain(evbuffer* b) {
  std::string s(evbuffer_get_length(b), '\0');
  evbuffer_remove(b, s.data(), s.size());
  return s;
}

inline nghttp2_nv Nv(const std::string& name, const std::string& value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

inline Fields With(Fields base, const Fields& more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

inline std::vector<nghttp2_nv> Nva(const Fields& fields) {
  std::vector<nghttp2_nv> nva;
  for (const auto& [n, v] : fields) nva.push_back(Nv(n, v));
  return nva;
}

inline const Fields kGet = {
    {":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", "/a?b=c"}};
inline const Fields kPost = {
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
    EXPECT_FALSE(heads.count(stream)) << "a second head on " << stream;
    Head h{std::string(head.method_text),
           std::string(head.path),
           std::string(head.authority),
           {},
           end_stream};
    for (const http::Header& f : head.headers) h.headers.emplace_back(f.name, f.value);
    heads[stream] = std::move(h);
    if (on_head) on_head(stream);
  }
  void OnStreamData(int32_t stream, const uint8_t* data, size_t size) override {
    ExpectOpen(stream);
    body[stream].append(reinterpret_cast<const char*>(data), size);
    if (on_data) on_data(stream, size);
  }
  void OnStreamEnd(int32_t stream, std::span<const http::Header> t) override {
    ExpectOpen(stream);
    Fields& f = ended[stream];
    for (const http::Header& h : t) f.emplace_back(h.name, h.value);
    if (on_end) on_end(stream);
  }
  void OnStreamClose(int32_t stream, uint32_t code) override {
    EXPECT_TRUE(heads.count(stream)) << "close without a head on " << stream;
    EXPECT_FALSE(closed.count(stream)) << "closed twice: " << stream;
    closed[stream] = code;
    if (on_close) on_close(stream, code);
  }
  evbuffer* ResponseBody(int32_t stream) override {
    ExpectOpen(stream);
    auto& b = responses[stream];
    if (!b) b = NewBuffer();
    return b.get();
  }

  // The moves a test makes from inside a callback, after it is recorded.
  std::function<void(int32_t)> on_head, on_end;
  std::function<void(int32_t, size_t)> on_data;
  std::function<void(int32_t, uint32_t)> on_close;

  std::map<int32_t, Head> heads;
  std::map<int32_t, std::string> body;
  std::map<int32_t, Fields> ended;
  std::map<int32_t, uint32_t> closed;
  std::map<int32_t, EvBuffer> responses;

 private:
  void ExpectOpen(int32_t stream) const {
    EXPECT_TRUE(heads.count(stream)) << "an event for " << stream << ", which had no head";
    EXPECT_FALSE(closed.count(stream)) << "an event for " << stream << " after its close";
  }
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

inline std::string Frame(uint8_t type, uint8_t flags, int32_t stream, std::string_view payload) {
  std::string f;
  const size_t n = payload.size();
  f += char(n >> 16), f += char(n >> 8), f += char(n);
  f += char(type), f += char(flags);
  f += char(stream >> 24), f += char(stream >> 16), f += char(stream >> 8), f += char(stream);
  f += payload;
  return f;
}

inline std::string Preface() {
  return std::string(NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN) +
         Frame(NGHTTP2_SETTINGS, 0, 0, "");
}

inline std::string Be32(uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

inline std::string RstStream(int32_t stream, uint32_t code) {
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

inline std::vector<RawFrame> Parse(const std::string& bytes) {
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

}  // namespace outrigger::http2
