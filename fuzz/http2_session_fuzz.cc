// Fuzzes the HTTP/2 session whole: the shared worker harness (worker_harness.h: a real
// forward::Worker between scripted clients and scripted backends, the loop stepped by hand)
// with `h2c: true` listeners and clients that speak HTTP/2 by prior knowledge — the preface
// and SETTINGS, HEADERS from a fixed set of HPACK blocks (kBlocks), DATA, RST_STREAM,
// WINDOW_UPDATE, PING, GOAWAY, SETTINGS, PRIORITY, any frame, and raw bytes — through the
// real codec and Exchange to backends answering HTTP/1 as in request_path_fuzz.
// fuzz/http2_session_seeds.py writes the seed corpus.
//
// The input is the harness's knobs, then actions: the harness's (enum Op; its kClientCanned
// is the preface here) and this target's (enum H2Op). A frame's stream is chosen by a
// selector byte (H2Client::Stream), so scripts reach open streams without knowing ids.
//
// What a run checks beyond the sanitizers: once every peer has gone, the worker holds no
// connection, and no descriptor outlives the input.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "fuzz/worker_harness.h"

namespace outrigger::forward::harness {
namespace {

// ---- Frames and HPACK ----------------------------------------------------------------------

enum FrameType : uint8_t {
  kData,
  kHeaders,
  kPriority,
  kRstStream,
  kSettings,
  kPushPromise,
  kPing,
  kGoaway,
  kWindowUpdate,
  kContinuation,
};
constexpr uint8_t kEndStream = 0x1, kAck = 0x1, kEndHeaders = 0x4, kPadded = 0x8,
                  kPriorityFlag = 0x20;
constexpr size_t kMaxFrame = 16384;  // the default SETTINGS_MAX_FRAME_SIZE
constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

void Put32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string f;
  const size_t n = payload.size();
  f.push_back(static_cast<char>(n >> 16));
  f.push_back(static_cast<char>(n >> 8));
  f.push_back(static_cast<char>(n));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  Put32(f, stream);
  f.append(payload);
  return f;
}

// An HPACK integer (RFC 7541 §5.1) with `prefix` bits, the byte's high bits from `first`.
std::string Int(uint8_t first, int prefix, size_t v) {
  const size_t max = (size_t{1} << prefix) - 1;
  std::string out;
  if (v < max) {
    out.push_back(static_cast<char>(first | v));
    return out;
  }
  out.push_back(static_cast<char>(first | max));
  for (v -= max; v >= 128; v >>= 7) out.push_back(static_cast<char>(0x80 | (v & 0x7f)));
  out.push_back(static_cast<char>(v));
  return out;
}

std::string Str(std::string_view s) { return Int(0, 7, s.size()) + std::string(s); }
// Static (or dynamic, from 62) table entry.
std::string Idx(size_t i) { return Int(0x80, 7, i); }
// Literal without indexing, name from table entry `i` (0: literal name).
std::string Lit(size_t i, std::string_view value) { return Int(0, 4, i) + Str(value); }
std::string Lit(std::string_view name, std::string_view value) {
  return Int(0, 4, 0) + Str(name) + Str(value);
}
// Literal with incremental indexing (it enters the dynamic table), name from entry `i`.
std::string Indexed(size_t i, std::string_view value) { return Int(0x40, 6, i) + Str(value); }

// Static table entries used below (RFC 7541 Appendix A).
constexpr size_t kAuthority = 1, kGet = 2, kPost = 3, kRoot = 4, kHttp = 6, kContentLength = 28,
                 kCookie = 32, kFirstDynamic = 62;

const std::vector<std::string>& Blocks() {
  static const std::vector<std::string> blocks = [] {
    const std::string get = Idx(kGet) + Idx(kRoot) + Idx(kHttp) + Lit(kAuthority, "a");
    return std::vector<std::string>{
        // 0: GET /, its authority entering the dynamic table (block 11 refers to it)
        Idx(kGet) + Idx(kRoot) + Idx(kHttp) + Indexed(kAuthority, "a"),
        // 1: POST / with content-length 5
        Idx(kPost) + Idx(kRoot) + Idx(kHttp) + Lit(kAuthority, "a") + Lit(kContentLength, "5"),
        // 2: POST / with no length (a streamed, chunked body upstream)
        Idx(kPost) + Idx(kRoot) + Idx(kHttp) + Lit(kAuthority, "a"),
        // 3: HEAD /x
        Lit(kGet, "HEAD") + Lit(kRoot, "/x") + Idx(kHttp) + Lit(kAuthority, "a"),
        // 4: GET /b/ (pool side) with a cookie and a hash key
        Idx(kGet) + Lit(kRoot, "/b/") + Idx(kHttp) + Lit(kAuthority, "a") + Lit(kCookie, "c=1") +
            Lit("x-key", "k") + Lit("x-forwarded-for", "6.6.6.6"),
        // 5: CONNECT (answered 501)
        Lit(kGet, "CONNECT") + Lit(kAuthority, "a:443"),
        // 6: a connection-specific field (malformed)
        get + Lit("connection", "keep-alive"),
        // 7: trailers
        Lit("x-t", "1"),
        // 8: no :path (malformed)
        Idx(kGet) + Idx(kHttp) + Lit(kAuthority, "a"),
        // 9: an upper-case field name (malformed)
        get + Lit("X-Up", "1"),
        // 10: PUT / declaring 300000 bytes
        Lit(kGet, "PUT") + Idx(kRoot) + Idx(kHttp) + Lit(kAuthority, "a") +
            Lit(kContentLength, "300000"),
        // 11: GET / with the authority from the dynamic table (a decoding error without it)
        Idx(kGet) + Idx(kRoot) + Idx(kHttp) + Idx(kFirstDynamic),
        // 12: a 4000-byte field value (with flag bit 1, spread over CONTINUATIONs)
        get + Lit("x-big", std::string(4000, 'v')),
        // 13: GET /api/x (the other listener's route)
        Idx(kGet) + Lit(kRoot, "/api/x") + Idx(kHttp) + Lit(kAuthority, "a"),
        // 14: an Upgrade to websocket on host ws.test (malformed on HTTP/2)
        Idx(kGet) + Idx(kRoot) + Idx(kHttp) + Lit(kAuthority, "ws.test") +
            Lit("upgrade", "websocket"),
        // 15: a dynamic table size update to 0, then GET /
        Int(0x20, 5, 0) + get,
        // 16: GET / with te: trailers, a host field besides :authority, and a content-length
        get + Lit("te", "trailers") + Lit("host", "b") + Lit(kContentLength, "0"),
        // 17: a response pseudo-field in a request (malformed)
        get + Lit(":status", "200"),
    };
  }();
  return blocks;
}

// SETTINGS payloads a preface may carry.
std::string SettingsPayload(uint8_t variant) {
  auto entry = [](uint16_t id, uint32_t value) {
    std::string e;
    e.push_back(static_cast<char>(id >> 8));
    e.push_back(static_cast<char>(id));
    Put32(e, value);
    return e;
  };
  switch (variant % 5) {
    case 1:  // no stream window: the proxy may send no response DATA until WINDOW_UPDATE
      return entry(4, 0);
    case 2:  // a small window and the smallest frames
      return entry(4, 100) + entry(5, 16384);
    case 3:  // no dynamic table for the proxy's encoder, no push
      return entry(1, 0) + entry(2, 0);
    case 4:  // one concurrent (pushed) stream, a small header list
      return entry(3, 1) + entry(6, 256);
    default:
      return "";
  }
}

// ---- The run -------------------------------------------------------------------------------

enum H2Op : uint8_t {
  kH2Headers = kOpCount,  // client, stream, block (kBlocks), flags (HeadersFlags)
  kH2Data,                // client, stream, length code, flags (bit 0 END_STREAM, 3 padded)
  kH2Rst,                 // client, stream, error code
  kH2WindowUpdate,        // client, stream, increment (kIncrements)
  kH2Ping,                // client, flags (bit 0: ACK)
  kH2Goaway,              // client, last stream, error code
  kH2Settings,            // client, id (bits 0-2) and ACK (bit 7), value (kValues)
  kH2Priority,            // client, stream, dependency stream
  kH2Frame,               // client, type, flags, stream, length, payload
  kH2Request,             // client, block, body: a whole request on a new stream
  kH2OpCount,
};

constexpr uint32_t kIncrements[] = {1, 1024, 65535, 1u << 20, 0x7fffffff, 0};
constexpr uint32_t kValues[] = {0, 1, 100, 16384, 65535, 16777215, 0x7fffffff, 0xffffffff};

// What a client's script knows of its connection: the streams it opened.
struct H2Client {
  uint32_t connects = 0;  // the Peer's connection these streams belong to
  uint32_t next_id = 1;
  std::vector<uint32_t> opened;

  // Selector `s`: bit 7 set, the raw id s & 127 (0, even, idle: any); 0, or none opened
  // yet, a new stream; else the (s - 1)th newest opened, modulo their count.
  uint32_t Stream(uint8_t s) {
    if (s & 0x80) return s & 0x7f;
    if (s == 0 || opened.empty()) {
      opened.push_back(next_id);
      next_id += 2;
      return opened.back();
    }
    return opened[opened.size() - 1 - (s - 1) % opened.size()];
  }
};

class H2Run {
 public:
  explicit H2Run(const Knobs& knobs) : h_(knobs, /*h2c=*/true) {}

  void Do(Reader& in) {
    const uint8_t op = in.Byte() % kH2OpCount;
    if (op < kOpCount && op != kClientCanned) {
      h_.Do(op, in);
      return;
    }
    const uint8_t who = in.Byte();
    Peer& peer = h_.Client(who);
    H2Client& c = clients_[who % kClients];
    if (c.connects != peer.connects) c = H2Client{peer.connects, 1, {}};
    std::string out;
    switch (op) {
      case kClientCanned:  // variant
        out = std::string(kPreface) + Frame(kSettings, 0, 0, SettingsPayload(in.Byte()));
        break;
      case kH2Headers: {
        const uint32_t id = c.Stream(in.Byte());
        const std::string& block = Blocks()[in.Byte() % Blocks().size()];
        out = Headers(id, block, in.Byte());
        break;
      }
      case kH2Data: {
        const uint32_t id = c.Stream(in.Byte());
        const uint8_t length = in.Byte();
        out = Data(id, length, in.Byte());
        break;
      }
      case kH2Rst: {
        const uint32_t id = c.Stream(in.Byte());
        std::string code;
        Put32(code, in.Byte() % 16);
        out = Frame(kRstStream, 0, id, code);
        break;
      }
      case kH2WindowUpdate: {
        const uint8_t s = in.Byte();
        const uint32_t id = s == 0x80 ? 0 : c.Stream(s);
        std::string inc;
        Put32(inc, kIncrements[in.Byte() % std::size(kIncrements)]);
        out = Frame(kWindowUpdate, 0, id, inc);
        break;
      }
      case kH2Ping:
        out = Frame(kPing, in.Byte() & kAck, 0, "pingpong");
        break;
      case kH2Goaway: {
        std::string payload;
        Put32(payload, c.Stream(in.Byte()));
        Put32(payload, in.Byte() % 16);
        out = Frame(kGoaway, 0, 0, payload);
        break;
      }
      case kH2Settings: {
        const uint8_t b = in.Byte();
        const uint32_t value = kValues[in.Byte() % std::size(kValues)];
        if (b & 0x80) {
          out = Frame(kSettings, kAck, 0, "");
        } else {
          std::string e;
          e.push_back(0);
          e.push_back(static_cast<char>(b & 7));
          Put32(e, value);
          out = Frame(kSettings, 0, 0, e);
        }
        break;
      }
      case kH2Priority: {
        const uint32_t id = c.Stream(in.Byte());
        std::string p;
        Put32(p, c.Stream(in.Byte()));
        p.push_back(15);
        out = Frame(kPriority, 0, id, p);
        break;
      }
      case kH2Frame: {
        const uint8_t type = in.Byte();
        const uint8_t flags = in.Byte();
        const uint32_t id = c.Stream(in.Byte());
        out = Frame(type % 12, flags, id, in.Bytes(in.Byte()));
        break;
      }
      case kH2Request: {
        const std::string& block = Blocks()[in.Byte() % Blocks().size()];
        const uint8_t body = in.Byte();
        const uint32_t id = c.Stream(0);
        if (body % 3 == 0) {
          out = Frame(kHeaders, kEndHeaders | kEndStream, id, block);
        } else {
          out = Frame(kHeaders, kEndHeaders, id, block) +
                Frame(kData, body % 3 == 1 ? kEndStream : 0, id, "hello");
          if (body % 3 == 2) out += Frame(kHeaders, kEndHeaders | kEndStream, id, Blocks()[7]);
        }
        break;
      }
      default:
        FUZZ_CHECK(false && "not an op");
    }
    peer.Send(out);
    h_.Step();
  }

  Harness& harness() { return h_; }

 private:
  // Flags: bit 0 END_STREAM; bit 1 the block split over CONTINUATIONs; bit 2 no
  // END_HEADERS and no CONTINUATION (the block left open); bit 3 padded; bit 4 priority.
  static std::string Headers(uint32_t id, std::string_view block, uint8_t flags) {
    uint8_t f = (flags & 1) ? kEndStream : 0;
    std::string prefix;
    std::string suffix;
    if (flags & 8) {
      f |= kPadded;
      prefix.push_back(3);
      suffix.assign(3, '\0');
    }
    if (flags & 16) {
      f |= kPriorityFlag;
      Put32(prefix, 0);
      prefix.push_back(15);
    }
    const bool split = (flags & 2) && block.size() > 1;
    const size_t first = split ? std::min(block.size() / 2, kMaxFrame - 64) : block.size();
    if (!split && !(flags & 4)) f |= kEndHeaders;
    std::string out = Frame(kHeaders, f, id, prefix + std::string(block.substr(0, first)) + suffix);
    if (!split) return out;
    for (size_t at = first; at < block.size(); at += kMaxFrame) {
      std::string_view piece = block.substr(at, kMaxFrame);
      const bool last = at + kMaxFrame >= block.size();
      out += Frame(kContinuation, last && !(flags & 4) ? kEndHeaders : 0, id, piece);
    }
    return out;
  }

  // Length code: bit 7 set, ((code & 7) + 1) full frames of kMaxFrame bytes; else that
  // many bytes in one frame.
  static std::string Data(uint32_t id, uint8_t length, uint8_t flags) {
    const uint8_t end = (flags & 1) ? kEndStream : 0;
    const bool padded = flags & 8;
    const size_t frames = (length & 0x80) ? (length & 7) + 1 : 1;
    const size_t size = (length & 0x80) ? kMaxFrame : length;
    std::string out;
    for (size_t i = 0; i < frames; ++i) {
      const uint8_t f = (i + 1 == frames ? end : 0) | (padded ? kPadded : 0);
      std::string payload(size, 'd');
      if (padded) {  // pad length 2, then the bytes that fit, then the padding
        payload = std::string(1, '\x02') + payload.substr(0, size > 3 ? size - 3 : 0) +
                  std::string(2, '\0');
      }
      out += Frame(kData, f, id, payload);
    }
    return out;
  }

  Harness h_;
  std::array<H2Client, kClients> clients_;
};

void RunOne(const uint8_t* data, size_t size) {
  Reader in(data, size);
  H2Run run(Knobs::Read(in));
  for (size_t i = 0; i < kMaxActions && !in.done(); ++i) run.Do(in);
  run.harness().Finish();
}

}  // namespace
}  // namespace outrigger::forward::harness

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  return outrigger::forward::harness::Initialize(outrigger::forward::harness::RunOne);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return outrigger::forward::harness::TestOneInput(outrigger::forward::harness::RunOne, data, size);
}
