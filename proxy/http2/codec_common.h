// What both HTTP/2 codecs (ServerCodec towards clients, ClientCodec towards backends) share
// besides CodecCore: their limits and counters, and body DATA moved from the owner's evbuffer
// without a copy.
#pragma once

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "proxy/http2/request_fields.h"
#include "proxy/http2/response_fields.h"

namespace outrigger::http2 {

struct CodecLimits {
  // Server: SETTINGS_MAX_CONCURRENT_STREAMS. Client: streams it opens at most, whatever the
  // peer allows.
  uint32_t max_concurrent_streams = 100;
  uint32_t stream_window = 64 * 1024;
  uint32_t connection_window = 1024 * 1024;
  RequestFields::Limits fields;  // 32 KiB / 100 fields, for every head and trailer section
  size_t max_continuations = 8;
  // Token buckets: `burst` resets at once, refilled by `per_second`.
  uint64_t peer_reset_burst = 1000;
  uint64_t peer_reset_per_second = 33;
  uint64_t local_reset_burst = 1000;
  uint64_t local_reset_per_second = 33;
  size_t max_outbound_ack = 1000;
  size_t max_settings = 32;
  uint32_t hpack_table_size = 4096;
  // DATA frames in a row with no payload and no END_STREAM (Envoy's default).
  uint32_t max_empty_frames = 1;
};

// Plain counters, one per limit, for the owner to export as metrics.
struct CodecStats {
  uint64_t streams_refused = 0;  // server: REFUSED_STREAM sent; client: received
  uint64_t headers_too_large = 0;
  uint64_t malformed_requests = 0;  // server only: 400 from RequestFields
  uint64_t continuation_floods = 0;
  uint64_t rapid_resets = 0;
  uint64_t local_reset_floods = 0;
  uint64_t control_floods = 0;
  uint64_t empty_frame_floods = 0;
  uint64_t settings_floods = 0;
  uint64_t hpack_errors = 0;
  uint64_t protocol_errors = 0;
};

// CodecStats' fields in one order, which the owners' metric labels follow
// (forward::kHttp2LimitLabels).
inline constexpr size_t kCodecStatCount = 11;
inline constexpr uint64_t CodecStats::*kCodecStatFields[kCodecStatCount] = {
    &CodecStats::streams_refused,    &CodecStats::headers_too_large,
    &CodecStats::malformed_requests, &CodecStats::continuation_floods,
    &CodecStats::rapid_resets,       &CodecStats::local_reset_floods,
    &CodecStats::control_floods,     &CodecStats::empty_frame_floods,
    &CodecStats::settings_floods,    &CodecStats::hpack_errors,
    &CodecStats::protocol_errors};

// Calls `add(index, n)` for each field of `now` that grew by n since `counted`, which then
// equals `now`: an owner exports its codec's counts as they grow, without reading them twice.
template <typename Add>
void CountGrowth(const CodecStats& now, CodecStats& counted, Add&& add) {
  for (size_t i = 0; i < kCodecStatCount; ++i) {
    const uint64_t n = now.*kCodecStatFields[i] - counted.*kCodecStatFields[i];
    if (n == 0) continue;
    add(i, n);
    counted.*kCodecStatFields[i] = now.*kCodecStatFields[i];
  }
}

// How a stream's outgoing body ends: when its evbuffer runs empty after `ends` is set, with
// END_STREAM, or with `trailers` when `has_trailers`.
struct BodyEnd {
  void Clear() {
    ends = has_trailers = false;
    trailers.Clear();
  }
  bool ends = false;
  bool has_trailers = false;
  ResponseFields trailers;  // no :status

  // The body ends when the buffer runs empty, with `fields` as trailers.
  void SetTrailers(std::span<const http::Header> fields) {
    trailers.Build(0, fields);
    has_trailers = ends = true;
  }
};

// The nghttp2 data source read callback's work, for a body held in `body` (null: not ready):
// asks for NO_COPY (SendBufferedBody moves the bytes), defers an empty unfinished body until
// nghttp2_session_resume_data, and submits the trailers at its end.
ssize_t ReadBufferedBody(nghttp2_session* session, int32_t stream, evbuffer* body, size_t length,
                         uint32_t* flags, BodyEnd& end);

// The send_data callback's work: the frame header, then `length` bytes moved from `body` to
// `out` without a copy. NGHTTP2_ERR_PAUSE once `out` reaches `high_water`.
int SendBufferedBody(evbuffer* body, evbuffer* out, const uint8_t* framehd, size_t length,
                     size_t high_water);

}  // namespace outrigger::http2
