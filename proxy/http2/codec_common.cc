#include "proxy/http2/codec_common.h"

#include <algorithm>
#include <chrono>

namespace outrigger::http2 {

int64_t NowSec() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int FeedSession(nghttp2_session* session, evbuffer* in) {
  evbuffer_iovec vec[8];
  while (evbuffer_get_length(in) > 0) {
    const int n = evbuffer_peek(in, -1, nullptr, vec, std::size(vec));
    size_t done = 0;
    for (int i = 0; i < n && i < int(std::size(vec)); ++i) {
      const ssize_t rv = nghttp2_session_mem_recv(
          session, static_cast<const uint8_t*>(vec[i].iov_base), vec[i].iov_len);
      if (rv < 0) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return int(rv);
      }
      done += vec[i].iov_len;
    }
    evbuffer_drain(in, done);
  }
  return 0;
}

int DrainSession(nghttp2_session* session, evbuffer* out, size_t high_water) {
  while (evbuffer_get_length(out) < high_water) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session, &data);
    if (n < 0) return int(n);
    if (n == 0) break;
    evbuffer_add(out, data, size_t(n));
  }
  return 0;
}

uint32_t CountFatal(int error, bool aborting, CodecStats& stats) {
  if (aborting) return NGHTTP2_ENHANCE_YOUR_CALM;  // counted where the limit was found
  switch (error) {
    case NGHTTP2_ERR_CALLBACK_FAILURE:
      return NGHTTP2_INTERNAL_ERROR;
    case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
      ++stats.continuation_floods;
      return NGHTTP2_PROTOCOL_ERROR;
    case NGHTTP2_ERR_FLOODED:
      ++stats.control_floods;
      return NGHTTP2_ENHANCE_YOUR_CALM;
    case NGHTTP2_ERR_BAD_CLIENT_MAGIC:
      ++stats.protocol_errors;
      return NGHTTP2_PROTOCOL_ERROR;
    default:
      ++stats.protocol_errors;
      return NGHTTP2_INTERNAL_ERROR;
  }
}

void CountGoawaySent(uint32_t error_code, CodecStats& stats) {
  switch (error_code) {
    case NGHTTP2_NO_ERROR:
      break;
    case NGHTTP2_COMPRESSION_ERROR:
      ++stats.hpack_errors;
      break;
    case NGHTTP2_ENHANCE_YOUR_CALM:
      ++stats.settings_floods;
      break;
    case NGHTTP2_INTERNAL_ERROR:
      ++stats.rapid_resets;
      break;
    default:
      ++stats.protocol_errors;
      break;
  }
}

ssize_t ReadBufferedBody(nghttp2_session* session, int32_t stream, evbuffer* body, size_t length,
                         uint32_t* flags, BodyEnd& end) {
  if (body == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  const size_t have = evbuffer_get_length(body);
  const size_t n = std::min(length, have);
  *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (end.ends && n == have) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (end.has_trailers) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      if (nghttp2_submit_trailer(session, stream, end.trailers.data(), end.trailers.size()) != 0) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      }
    }
  } else if (n == 0) {
    return NGHTTP2_ERR_DEFERRED;
  }
  return ssize_t(n);
}

int SendBufferedBody(evbuffer* body, evbuffer* out, const uint8_t* framehd, size_t length,
                     size_t high_water) {
  if (body == nullptr || out == nullptr) return NGHTTP2_ERR_CALLBACK_FAILURE;
  evbuffer_add(out, framehd, 9);
  // No padding is ever asked for (no select_padding callback), so the payload is the body.
  if (evbuffer_remove_buffer(body, out, length) != int(length)) {
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  return evbuffer_get_length(out) >= high_water ? NGHTTP2_ERR_PAUSE : 0;
}

std::array<uint8_t, 17> GoawayFrame(uint32_t last_stream_id, uint32_t error_code) {
  // 9-byte frame header (length 8, type 7, no flags, stream 0), last stream, error code.
  std::array<uint8_t, 17> f = {0, 0, 8, NGHTTP2_GOAWAY, 0, 0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) {
    f[9 + i] = uint8_t(last_stream_id >> (24 - 8 * i));
    f[13 + i] = uint8_t(error_code >> (24 - 8 * i));
  }
  return f;
}

}  // namespace outrigger::http2
