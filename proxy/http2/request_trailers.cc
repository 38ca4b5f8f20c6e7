#include "proxy/http2/request_trailers.h"

namespace outrigger::http2 {

// RFC 7541 §4.1: what a field counts towards a header list's size.
constexpr size_t kFieldOverhead = 32;

bool RequestTrailers::Add(std::string_view name, std::string_view value) {
  if (over_limit_) return false;
  list_size_ += name.size() + value.size() + kFieldOverhead;
  if (list_size_ > limits_.max_list_size || sizes_.size() >= limits_.max_fields) {
    over_limit_ = true;
    return false;
  }
  bytes_.append(name).append(value);
  sizes_.emplace_back(name.size(), value.size());
  return true;
}

std::span<const http::Header> RequestTrailers::Finish() {
  // Views are made only now: bytes_ may move while fields are added.
  fields_.clear();
  const std::string_view b(bytes_);
  size_t at = 0;
  for (const auto& [name, value] : sizes_) {
    fields_.push_back({b.substr(at, name), b.substr(at + name, value)});
    at += name + value;
  }
  return fields_;
}

void RequestTrailers::Clear() {
  bytes_.clear();
  sizes_.clear();
  fields_.clear();
  list_size_ = 0;
  over_limit_ = false;
}

}  // namespace outrigger::http2
