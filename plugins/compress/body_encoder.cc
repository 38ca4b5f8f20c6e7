#include "plugins/compress/body_encoder.h"

namespace outrigger::plugins {

std::string_view CodingName(Coding coding) { return coding == Coding::kGzip ? "gzip" : "br"; }

absl::Status BodyEncoder::Encode(evbuffer* in, evbuffer* out, bool finish) {
  for (;;) {
    evbuffer_iovec src{};
    if (evbuffer_peek(in, -1, nullptr, &src, 1) == 0) src.iov_len = 0;
    const bool last = src.iov_len == evbuffer_get_length(in);
    const Then then = !last ? Then::kMore : finish ? Then::kFinish : Then::kFlush;
    if (absl::Status s =
            EncodeSegment(static_cast<const uint8_t*>(src.iov_base), src.iov_len, then, out);
        !s.ok()) {
      return s;
    }
    evbuffer_drain(in, src.iov_len);
    if (last) return absl::OkStatus();
  }
}

absl::StatusOr<std::unique_ptr<BodyEncoder>> EncoderPool::Take(Coding coding, int level) {
  std::vector<std::unique_ptr<BodyEncoder>>& free = free_[static_cast<size_t>(coding)];
  std::unique_ptr<BodyEncoder> e;
  if (!free.empty()) {
    e = std::move(free.back());
    free.pop_back();
  } else {
    e = coding == Coding::kGzip ? MakeGzipEncoder() : MakeBrotliEncoder();
  }
  if (absl::Status s = e->Start(level); !s.ok()) return s;
  return e;
}

void EncoderPool::Give(Coding coding, std::unique_ptr<BodyEncoder> encoder) {
  std::vector<std::unique_ptr<BodyEncoder>>& free = free_[static_cast<size_t>(coding)];
  if (encoder != nullptr && free.size() < kKeep) free.push_back(std::move(encoder));
}

}  // namespace outrigger::plugins
