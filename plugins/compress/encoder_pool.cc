#include "plugins/compress/body_encoder.h"

namespace outrigger::plugins {

std::string_view CodingName(Coding coding) { return coding == Coding::kGzip ? "gzip" : "br"; }

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
