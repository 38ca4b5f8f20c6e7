// Fuzzes http2::ServerCodec as a hostile client and a careless owner would drive it: the input
// is read from both ends. From the front, a script of the owner's own moves (feed the next
// client bytes to Receive, Send with a high-water mark, let the client read, answer, add or
// take body bytes, finish, send trailers, reset, GOAWAY, consume); the client bytes are part
// of the FEED op, so a seed is a real client session (fuzz/http2_codec_seeds.py). From the
// back, one byte per callback: what the owner does from inside that callback (the moves
// server_codec.h allows there), so the fuzzer also decides when each call lands.
//
// What a run checks beyond the sanitizers (the contracts in server_codec.h):
//   - OnStreamHead once per id, for a new odd id; every other callback only for an id that
//     had a head and is not closed; OnStreamClose once, last; no OnStreamData after
//     OnStreamEnd; ResponseBody only for an open stream (the owner frees it on close).
//   - flow control: the request bytes the owner holds (delivered, not consumed, stream open)
//     never exceed the stream window (64 KiB) per stream, nor the connection's 1 MiB.
//   - Send stops near its high-water mark; the slot table never holds more than its size.
//   - a connection that wants neither to read nor to write has no stream left open.
#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "proxy/http2/server_codec.h"

namespace outrigger::http2 {
namespace {

constexpr size_t kStreamWindow = 64 * 1024;
constexpr size_t kConnectionWindow = 1024 * 1024;
// Send may pass its mark by the one frame that crossed it: a DATA frame (16 KiB + header) or
// a HEADERS frame of the owner's (small here), or the GOAWAY written after a failure.
constexpr size_t kSendSlack = 16384 + 9 + 4096;

struct EvBufferDeleter {
  void operator()(evbuffer* b) const { evbuffer_free(b); }
};
using EvBuffer = std::unique_ptr<evbuffer, EvBufferDeleter>;

// The input, consumed from the front (the script) and from the back (callback choices);
// the two never overlap, and both read zeros once it is used up.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return size_ == 0; }
  uint8_t Front() {
    if (size_ == 0) return 0;
    --size_;
    return *data_++;
  }
  uint16_t Front16() { return uint16_t(Front() << 8 | Front()); }
  std::span<const uint8_t> FrontBytes(size_t n) {
    n = std::min(n, size_);
    std::span<const uint8_t> out(data_, n);
    data_ += n;
    size_ -= n;
    return out;
  }
  uint8_t Back() {
    if (size_ == 0) return 0;
    return data_[--size_];
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

enum Op : uint8_t {
  kFeed,     // u16 length, then that many client bytes: Receive
  kSend,     // u8: high-water mark (1 + 256 * u8)
  kRead,     // u16: the client reads that many bytes of what was sent (0: all)
  kRespond,  // u8 stream, u8 status choice, u8 has_body
  // From here on, each op's first byte picks a stream (Owner::Pick).
  kBody,      // u8 stream, u16 length: response bytes into ResponseBody, then ResumeData
  kTakeBody,  // u8 stream: empty the stream's response buffer (the owner changed its mind)
  kFinish,    // u8 stream
  kTrailers,  // u8 stream
  kReset,     // u8 stream, u8 code
  kGoaway,    // u8 stream (unused), u8 code
  kConsume,   // u8 stream, u16 bytes (0xffff: all the owner holds)
  kResume,    // u8 stream
  kOpCount,
};

class Owner : public ServerCodecCallbacks {
 public:
  explicit Owner(Input& in) : in_(in) {}
  void set_codec(ServerCodec* codec) { codec_ = codec; }
  size_t open() const { return streams_.size(); }

  // ---- callbacks: record, check, and maybe act ----

  void OnStreamHead(int32_t stream, http::RequestHead& head, bool end_stream) override {
    FUZZ_CHECK(stream > 0 && stream % 2 == 1);
    FUZZ_CHECK(!streams_.count(stream) && !closed_.count(stream));
    FUZZ_CHECK(!head.method_text.empty() && !head.path.empty());
    Stream& s = streams_[stream];
    s.ended = end_stream;
    ids_.push_back(stream);
    FUZZ_CHECK(streams_.size() <= 100);
    FUZZ_CHECK(codec_->open_streams() <= 100);
    ActFromCallback(stream);
  }
  void OnStreamData(int32_t stream, const uint8_t* data, size_t size) override {
    Stream& s = Open(stream);
    FUZZ_CHECK(!s.ended);
    FUZZ_CHECK(size > 0 && data != nullptr);
    s.held += size;
    held_ += size;
    FUZZ_CHECK(s.held <= kStreamWindow);
    FUZZ_CHECK(held_ <= kConnectionWindow);
    ActFromCallback(stream);
  }
  void OnStreamEnd(int32_t stream, std::span<const http::Header> trailers) override {
    Stream& s = Open(stream);
    FUZZ_CHECK(!s.ended);
    for (const http::Header& h : trailers) FUZZ_CHECK(!h.name.empty());
    s.ended = true;
    ActFromCallback(stream);
  }
  void OnStreamClose(int32_t stream, uint32_t) override {
    Stream& s = Open(stream);
    held_ -= s.held;
    streams_.erase(stream);
    closed_.insert(stream);
    // Late moves for the stream just closed (or any other) are allowed from here too.
    ActFromCallback(stream);
  }
  evbuffer* ResponseBody(int32_t stream) override {
    Stream& s = Open(stream);
    if (!s.body) s.body.reset(evbuffer_new());
    return s.body.get();
  }

  // ---- the owner's moves, from the script or from a callback ----

  // A stream id from a byte: one the owner has seen (open or closed), or any odd id.
  int32_t Pick(uint8_t b) const {
    if (b < 0xf0 && !ids_.empty()) return ids_[b % ids_.size()];
    return int32_t(2 * (b - 0xf0) + 1);
  }

  void Move(Op op, int32_t stream, Input& args, bool front) {
    auto byte = [&] { return front ? args.Front() : args.Back(); };
    switch (op) {
      case kRespond: {
        static constexpr int kStatuses[] = {200, 204, 100, 103, 404, 500, 0, 1000, 304, 199};
        http::ResponseHead head;
        head.status = kStatuses[byte() % std::size(kStatuses)];
        head.headers = {
            {"Content-Type", "text/plain"}, {"Connection", "close, X-Hop"}, {"X-Hop", "1"}};
        codec_->SubmitResponse(stream, head, byte() & 1);
        break;
      }
      case kBody: {
        const size_t n = front ? args.Front16() : size_t(args.Back()) << 6;
        if (Stream* s = Find(stream)) {
          if (!s->body) s->body.reset(evbuffer_new());
          std::vector<uint8_t> fill(n, 'b');
          evbuffer_add(s->body.get(), fill.data(), fill.size());
        }
        codec_->ResumeData(stream);
        break;
      }
      case kTakeBody:
        if (Stream* s = Find(stream); s && s->body) {
          evbuffer_drain(s->body.get(), evbuffer_get_length(s->body.get()));
        }
        break;
      case kFinish:
        codec_->FinishResponse(stream);
        break;
      case kTrailers: {
        const http::Header trailers[] = {{"Grpc-Status", "0"}, {"Connection", "x"}};
        codec_->SubmitTrailers(stream, trailers);
        break;
      }
      case kReset:
        codec_->ResetStream(stream, byte() % 14);
        break;
      case kGoaway: {
        const uint8_t b = byte();
        codec_->Goaway(b < 128 ? NGHTTP2_NO_ERROR : b % 14);
        break;
      }
      case kConsume: {
        const uint16_t want = front ? args.Front16() : uint16_t(args.Back() << 8);
        size_t n = want;
        Stream* s = Find(stream);
        if (want == 0xffff || (!front && want == 0)) n = s ? s->held : 0;
        if (s != nullptr) {
          const size_t taken = std::min(n, s->held);
          s->held -= taken;
          held_ -= taken;
        }
        codec_->Consume(stream, n);
        break;
      }
      case kResume:
        codec_->ResumeData(stream);
        break;
      default:
        break;
    }
  }

 private:
  struct Stream {
    size_t held = 0;  // delivered by OnStreamData, not yet consumed
    bool ended = false;
    EvBuffer body;
  };

  Stream& Open(int32_t stream) {
    auto it = streams_.find(stream);
    FUZZ_CHECK(it != streams_.end());  // a head, and no close yet
    return it->second;
  }
  Stream* Find(int32_t stream) {
    auto it = streams_.find(stream);
    return it == streams_.end() ? nullptr : &it->second;
  }

  // One byte from the back: nothing (most values), or one allowed move, on this stream or
  // another.
  void ActFromCallback(int32_t stream) {
    const uint8_t b = in_.Back();
    if (b < 0x80) return;
    const auto op = Op(b % kOpCount);
    if (op == kFeed || op == kSend || op == kRead) return;  // not allowed from a callback
    if (b & 0x40) stream = Pick(in_.Back());
    Move(op, stream, in_, /*front=*/false);
  }

  Input& in_;
  ServerCodec* codec_ = nullptr;
  std::map<int32_t, Stream> streams_;  // had a head, not closed
  std::set<int32_t> closed_;
  std::vector<int32_t> ids_;  // every id that had a head, in order
  size_t held_ = 0;
};

}  // namespace
}  // namespace outrigger::http2

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace outrigger::http2;
  Input in(data, size);
  Owner owner(in);
  CodecLimits limits;
  ServerCodec codec(owner, limits);
  owner.set_codec(&codec);
  EvBuffer c2s(evbuffer_new());
  EvBuffer s2c(evbuffer_new());
  bool reading = true;

  auto send = [&](size_t high_water) {
    const size_t before = evbuffer_get_length(s2c.get());
    codec.Send(s2c.get(), high_water);
    const size_t after = evbuffer_get_length(s2c.get());
    if (before < high_water) FUZZ_CHECK(after < high_water + kSendSlack);
    if (before >= high_water) FUZZ_CHECK(after <= before + 17);  // at most the GOAWAY
  };

  for (int ops = 0; !in.empty() && ops < 4096; ++ops) {
    const auto op = Op(in.Front() % kOpCount);
    switch (op) {
      case kFeed: {
        const std::span<const uint8_t> bytes = in.FrontBytes(in.Front16());
        if (!reading) break;
        evbuffer_add(c2s.get(), bytes.data(), bytes.size());
        reading = codec.Receive(c2s.get());
        FUZZ_CHECK(evbuffer_get_length(c2s.get()) == 0);
        break;
      }
      case kSend:
        send(1 + 256 * size_t(in.Front()));
        break;
      case kRead: {
        const uint16_t n = in.Front16();
        evbuffer_drain(s2c.get(), n == 0 ? evbuffer_get_length(s2c.get()) : n);
        break;
      }
      default: {
        const int32_t stream = owner.Pick(in.Front());
        owner.Move(op, stream, in, /*front=*/true);
        break;
      }
    }
    // A connection that wants neither to read nor to write is closed by its owner: no
    // stream may be left open, or its close never comes.
    if (!codec.WantsRead() && !codec.WantsWrite()) {
      FUZZ_CHECK(owner.open() == 0);
      FUZZ_CHECK(codec.open_streams() == 0);
    }
  }
  // The client reads everything: what the codec still has to say comes out, in bounded steps.
  for (int i = 0; i < 64 && codec.WantsWrite(); ++i) {
    evbuffer_drain(s2c.get(), evbuffer_get_length(s2c.get()));
    send(64 * 1024);
  }
  return 0;
}
