#include "proxy/http2/codec_core.h"

#include <chrono>
#include <iterator>

namespace outrigger::http2 {
namespace {

int64_t NowSec() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Feeds all of `in` to `session`: 0, or nghttp2's error (then `in` is drained too).
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

// Appends frames to `out` while it holds less than `high_water`: 0, or nghttp2's error.
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

// A fatal nghttp2 error (`aborting`: one of our limits made a callback fail): counts it in
// `stats` unless already counted, and returns the GOAWAY code to close with.
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

// A GOAWAY nghttp2 decided on and sent: counts its reason. In 1.52 ENHANCE_YOUR_CALM comes
// only from too many SETTINGS entries, INTERNAL_ERROR from its reset limiter.
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

// The 17 bytes of a GOAWAY frame (no debug data), for a session nghttp2 can no longer use.
std::array<uint8_t, 17> GoawayFrame(uint32_t last_stream_id, uint32_t error_code) {
  // 9-byte frame header (length 8, type 7, no flags, stream 0), last stream, error code.
  std::array<uint8_t, 17> f = {0, 0, 8, NGHTTP2_GOAWAY, 0, 0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) {
    f[9 + i] = uint8_t(last_stream_id >> (24 - 8 * i));
    f[13 + i] = uint8_t(error_code >> (24 - 8 * i));
  }
  return f;
}

}  // namespace

CodecCore::CodecCore(const CodecLimits& limits)
    : limits_(limits),
      peer_resets_(limits.peer_reset_burst, limits.peer_reset_per_second),
      local_resets_(limits.local_reset_burst, limits.local_reset_per_second) {}

bool CodecCore::Receive(evbuffer* in) {
  if (failed_) {
    evbuffer_drain(in, evbuffer_get_length(in));
    return false;
  }
  if (const int rv = FeedSession(session_.get(), in); rv != 0) {
    Fail(rv);
    return false;
  }
  return !failed_ && !Terminating() && nghttp2_session_want_read(session_.get());
}

bool CodecCore::Send(evbuffer* out, size_t high_water) {
  if (!failed_) {
    out_ = out;
    high_water_ = high_water;
    const int rv = DrainSession(session_.get(), out, high_water);
    out_ = nullptr;
    if (rv == 0) return true;
    Fail(rv);
  }
  if (goaway_pending_) evbuffer_add(out, goaway_.data(), goaway_.size());
  goaway_pending_ = false;
  return false;
}

bool CodecCore::WantsRead() const {
  return !failed_ && nghttp2_session_want_read(session_.get()) != 0;
}

bool CodecCore::WantsWrite() const {
  if (failed_) return goaway_pending_;
  return nghttp2_session_want_write(session_.get()) != 0;
}

void CodecCore::Goaway(uint32_t error_code) {
  if (failed_) return;
  owner_goaway_ = true;
  if (error_code == NGHTTP2_NO_ERROR) {
    // A client processes no streams of the server's, so its last stream id is 0.
    nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_.get()), NGHTTP2_NO_ERROR,
                          nullptr, 0);
  } else {
    nghttp2_session_terminate_session(session_.get(), error_code);
  }
}

void CodecCore::Fail(int error) {
  const uint32_t code = CountFatal(error, aborting_, stats_);
  failed_ = true;
  // A session after a fatal error must not be used again, so the GOAWAY is written here.
  goaway_ = GoawayFrame(uint32_t(nghttp2_session_get_last_proc_stream_id(session_.get())), code);
  goaway_pending_ = true;
  // nghttp2 will call nothing more: the owner hears of every stream it was given here.
  CloseAll(code);
}

void CodecCore::ChargeLocalReset() {
  if (!local_resets_.Take(NowSec())) Abort(&stats_.local_reset_floods);
}

void CodecCore::ChargePeerReset() {
  if (!peer_resets_.Take(NowSec())) Abort(&stats_.rapid_resets);
}

void CodecCore::CountEmptyData(const nghttp2_frame& frame) {
  // Any payload or END_STREAM starts the count again.
  if (frame.hd.length == frame.data.padlen && !(frame.hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    if (++empty_frames_ > limits_.max_empty_frames) Abort(&stats_.empty_frame_floods);
  } else {
    empty_frames_ = 0;
  }
}

bool CodecCore::PastWindow(int32_t stream, size_t unconsumed, size_t len, bool& over_window) {
  nghttp2_session* s = session_.get();
  const int32_t window = nghttp2_session_get_stream_effective_local_window_size(s, stream);
  if (over_window || window < 0 || unconsumed + len > size_t(window)) {
    over_window = true;
    nghttp2_session_consume_connection(s, len);
    return true;
  }
  return false;
}

void CodecCore::GoawaySent(const nghttp2_frame& frame) {
  if (!owner_goaway_) CountGoawaySent(frame.goaway.error_code, stats_);
  if (frame.goaway.error_code != NGHTTP2_NO_ERROR) CloseAll(frame.goaway.error_code);
}

void CodecCore::Abort(uint64_t* stat) {
  if (aborting_) return;
  ++*stat;
  aborting_ = true;
}

}  // namespace outrigger::http2
