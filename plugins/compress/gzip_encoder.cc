// gzip (RFC 1952) through zlib's deflate. The state is made once and reset between streams.
#include <zlib.h>

#include "plugins/compress/body_encoder.h"

namespace outrigger::plugins {
namespace {

class GzipEncoder final : public BodyEncoder {
 public:
  ~GzipEncoder() override {
    if (initialized_) deflateEnd(&z_);
  }

  absl::Status Start(int level) override {
    int rc = Z_OK;
    if (!initialized_) {
      // windowBits 15 + 16: a gzip wrapper rather than zlib's. memLevel 8 is zlib's default.
      rc = deflateInit2(&z_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
      initialized_ = rc == Z_OK;
    } else {
      rc = deflateReset(&z_);
      if (rc == Z_OK && level != level_) rc = deflateParams(&z_, level, Z_DEFAULT_STRATEGY);
    }
    if (rc != Z_OK) return absl::InternalError(z_.msg != nullptr ? z_.msg : "deflate init failed");
    level_ = level;
    return absl::OkStatus();
  }

  absl::Status EncodeSegment(const uint8_t* data, size_t size, Then then, evbuffer* out) override {
    z_.next_in = const_cast<Bytef*>(data);  // zlib's API is not const, but it only reads
    z_.avail_in = static_cast<uInt>(size);
    const int flush = then == Then::kMore    ? Z_NO_FLUSH
                      : then == Then::kFlush ? Z_SYNC_FLUSH
                                             : Z_FINISH;
    do {  // until deflate leaves output space unused: then it has said all it can
      evbuffer_iovec dst{};
      if (evbuffer_reserve_space(out, kOutStep, &dst, 1) < 1) {
        return absl::ResourceExhaustedError("no memory for compressed output");
      }
      z_.next_out = static_cast<Bytef*>(dst.iov_base);
      z_.avail_out = static_cast<uInt>(dst.iov_len);
      const int rc = deflate(&z_, flush);
      dst.iov_len -= z_.avail_out;
      evbuffer_commit_space(out, &dst, 1);
      // Z_BUF_ERROR: no progress was possible (a flush with nothing new), not a failure.
      if (rc == Z_STREAM_ERROR) return absl::InternalError("deflate failed");
    } while (z_.avail_out == 0);
    return absl::OkStatus();
  }

 private:
  z_stream z_{};
  bool initialized_ = false;
  int level_ = 0;
};

}  // namespace

std::unique_ptr<BodyEncoder> MakeGzipEncoder() { return std::make_unique<GzipEncoder>(); }

}  // namespace outrigger::plugins
