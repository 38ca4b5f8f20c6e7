// CodecCore: the connection half both HTTP/2 codecs share (ServerCodec towards clients,
// ClientCodec towards backends): moving bytes through the nghttp2 session, the connection-wide
// limits (reset budgets, empty DATA frames), and ending the connection.
//
// A fatal nghttp2 error (flood, CONTINUATION, preface) leaves the session unusable, and a
// limit of ours (Abort) makes the callback that found it fail the session, so not one more
// frame is read: either way the core writes a GOAWAY of its own for Send (ENHANCE_YOUR_CALM
// for floods and budgets, PROTOCOL_ERROR otherwise), has the codec close every open stream
// towards its owner (CloseAll), and reads nothing more.
//
// Callbacks of the codecs run inside Receive and Send only; nghttp2 is not reentrant, so
// neither may be called from one. Not thread-safe; one loop.
#pragma once

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "proxy/http2/codec_common.h"
#include "proxy/http2/nghttp2_handles.h"
#include "proxy/http2/reset_budget.h"

namespace outrigger::http2 {

class CodecCore {
 public:
  CodecCore(const CodecCore&) = delete;
  CodecCore& operator=(const CodecCore&) = delete;

  // Feeds all of `in` (the peer's bytes) to the session and drains it. False on a connection
  // error: the owner sends what Send still produces (a GOAWAY), then closes.
  bool Receive(evbuffer* in);
  // Appends frames to `out` while it holds less than `high_water` bytes. False on a fatal
  // session error (the connection must close).
  bool Send(evbuffer* out, size_t high_water);
  // The connection should stay open to read / has frames to send. Neither: close it once
  // `out` is flushed.
  bool WantsRead() const;
  bool WantsWrite() const;
  // NO_ERROR: graceful, no new streams, open ones finish. Any other code: close now; once
  // Send has written the GOAWAY, every open stream is closed towards the owner with it.
  void Goaway(uint32_t error_code = NGHTTP2_NO_ERROR);

  const CodecStats& stats() const { return stats_; }

 protected:
  explicit CodecCore(const CodecLimits& limits);
  ~CodecCore() = default;

  // The connection is over: every open stream is forgotten, and each the owner was given
  // hears of it with `code`.
  virtual void CloseAll(uint32_t code) = 0;
  // nghttp2 found a connection error and queued its GOAWAY, not yet sent.
  virtual bool Terminating() const { return false; }

  // One more reset the peer made us send (MadeYouReset) / the peer sent (Rapid Reset); past
  // the budget, Abort.
  void ChargeLocalReset();
  void ChargePeerReset();
  // DATA frames in a row that carry nothing and end nothing (CVE-2019-9518): free work for
  // the peer. Past max_empty_frames, Abort.
  void CountEmptyData(const nghttp2_frame& frame);
  // DATA past `stream`'s window: nghttp2 resets the stream but still hands the bytes over.
  // A valid peer keeps `unconsumed` + `len` within the window (what the owner holds is part
  // of what nghttp2 counts as received), so past it the bytes are the violation: true, they
  // are returned to the connection, and `over_window` stays set (deliver nothing more).
  bool PastWindow(int32_t stream, size_t unconsumed, size_t len, bool& over_window);
  // A GOAWAY went out: counted unless the owner asked for it; one with an error closes
  // every stream (nghttp2 serves no stream after it, yet would never close them).
  void GoawaySent(const nghttp2_frame& frame);
  // A limit of ours was passed: counts `stat` once and makes the running callback fail the
  // session (CallbackResult), so nghttp2 reads not one more frame.
  void Abort(uint64_t* stat);
  int CallbackResult() const { return aborting_ ? NGHTTP2_ERR_CALLBACK_FAILURE : 0; }

  CodecLimits limits_;
  SessionPtr session_;       // made by the codec's constructor
  evbuffer* out_ = nullptr;  // during Send: where the codec's send_data callback writes
  size_t high_water_ = 0;
  bool failed_ = false;
  bool owner_goaway_ = false;  // Goaway() was called: GOAWAYs sent since are not limits
  CodecStats stats_;

 private:
  // A GOAWAY written by hand after a fatal nghttp2 error, with the stat to count.
  void Fail(int nghttp2_error);

  ResetBudget peer_resets_, local_resets_;
  bool aborting_ = false;
  uint32_t empty_frames_ = 0;         // consecutive, connection-wide
  std::array<uint8_t, 17> goaway_{};  // the hand-written GOAWAY while goaway_pending_
  bool goaway_pending_ = false;
};

}  // namespace outrigger::http2
