// Owning handles for the nghttp2 objects the codec creates, so every exit path (a failed
// constructor step included) frees them. nghttp2's *_new functions report only
// NGHTTP2_ERR_NOMEM; the Make* helpers below turn that into std::bad_alloc, as operator new
// would, instead of a null handle every caller must check.
#pragma once

#include <nghttp2/nghttp2.h>

#include <memory>
#include <new>

namespace outrigger::http2 {

struct SessionDeleter {
  void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
};
struct OptionDeleter {
  void operator()(nghttp2_option* o) const { nghttp2_option_del(o); }
};
struct CallbacksDeleter {
  void operator()(nghttp2_session_callbacks* c) const { nghttp2_session_callbacks_del(c); }
};

using SessionPtr = std::unique_ptr<nghttp2_session, SessionDeleter>;
using OptionPtr = std::unique_ptr<nghttp2_option, OptionDeleter>;
using CallbacksPtr = std::unique_ptr<nghttp2_session_callbacks, CallbacksDeleter>;

inline OptionPtr MakeOption() {
  nghttp2_option* o = nullptr;
  if (nghttp2_option_new(&o) != 0) throw std::bad_alloc();
  return OptionPtr(o);
}

inline CallbacksPtr MakeCallbacks() {
  nghttp2_session_callbacks* c = nullptr;
  if (nghttp2_session_callbacks_new(&c) != 0) throw std::bad_alloc();
  return CallbacksPtr(c);
}

}  // namespace outrigger::http2
