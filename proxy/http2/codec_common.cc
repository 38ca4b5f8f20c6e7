#include "proxy/http2/codec_common.h"

#include <algorithm>

namespace outrigger::http2 {

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

}  // namespace outrigger::http2
