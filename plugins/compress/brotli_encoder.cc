// Brotli (RFC 7932) through libbrotlienc. Its state cannot be reset, so each stream makes a
// new one; the window is 512 KiB (lgwin 19, as nginx's brotli module), not the library's
// 4 MiB, since a proxy holds one per response in flight.
#include <brotli/encode.h>

#include "plugins/compress/body_encoder.h"

namespace outrigger::plugins {
namespace {

constexpr uint32_t kWindowBits = 19;

struct StateDeleter {
  void operator()(BrotliEncoderState* s) const { BrotliEncoderDestroyInstance(s); }
};

class BrotliEncoder final : public BodyEncoder {
 public:
  absl::Status Start(int level) override {
    state_.reset(BrotliEncoderCreateInstance(nullptr, nullptr, nullptr));
    if (state_ == nullptr ||
        !BrotliEncoderSetParameter(state_.get(), BROTLI_PARAM_QUALITY,
                                   static_cast<uint32_t>(level)) ||
        !BrotliEncoderSetParameter(state_.get(), BROTLI_PARAM_LGWIN, kWindowBits)) {
      return absl::InternalError("brotli encoder init failed");
    }
    return absl::OkStatus();
  }

  absl::Status EncodeSegment(const uint8_t* data, size_t size, Then then, evbuffer* out) override {
    size_t avail_in = size;
    const uint8_t* next_in = data;
    const BrotliEncoderOperation op = then == Then::kMore    ? BROTLI_OPERATION_PROCESS
                                      : then == Then::kFlush ? BROTLI_OPERATION_FLUSH
                                                             : BROTLI_OPERATION_FINISH;
    for (;;) {
      evbuffer_iovec dst{};
      if (evbuffer_reserve_space(out, kOutStep, &dst, 1) < 1) {
        return absl::ResourceExhaustedError("no memory for compressed output");
      }
      size_t avail_out = dst.iov_len;
      auto* next_out = static_cast<uint8_t*>(dst.iov_base);
      const bool ok = BrotliEncoderCompressStream(state_.get(), op, &avail_in, &next_in, &avail_out,
                                                  &next_out, nullptr);
      dst.iov_len -= avail_out;
      evbuffer_commit_space(out, &dst, 1);
      if (!ok) return absl::InternalError("brotli encoding failed");
      if (avail_in == 0 && !BrotliEncoderHasMoreOutput(state_.get()) &&
          (op != BROTLI_OPERATION_FINISH || BrotliEncoderIsFinished(state_.get()))) {
        return absl::OkStatus();
      }
    }
  }

 private:
  std::unique_ptr<BrotliEncoderState, StateDeleter> state_;
};

}  // namespace

std::unique_ptr<BodyEncoder> MakeBrotliEncoder() { return std::make_unique<BrotliEncoder>(); }

}  // namespace outrigger::plugins
