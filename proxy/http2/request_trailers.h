// RequestTrailers: one stream's request trailer fields, collected as the HPACK decoder
// delivers them and bounded as the head is (RequestFields::Limits: list size counted as
// SETTINGS_MAX_HEADER_LIST_SIZE counts it, and a field count). Past either limit nothing more
// is kept, so a trailer section costs decoding but never memory beyond the limits.
//
// nghttp2 has already refused pseudo-fields, invalid names and values, and connection-specific
// fields in trailers (its HTTP messaging checks apply to them), so names and values are taken
// as they come. Not thread-safe; one per stream slot, reused (Clear keeps the memory).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/message.h"
#include "proxy/http2/request_fields.h"

namespace outrigger::http2 {

class RequestTrailers {
 public:
  explicit RequestTrailers(RequestFields::Limits limits) : limits_(limits) {}

  // Copies one field. False once the limits are passed (and for every call after).
  bool Add(std::string_view name, std::string_view value);
  bool over_limit() const { return over_limit_; }

  // The fields in order; views valid until Clear. REQUIRES: !over_limit(); called once.
  std::span<const http::Header> Finish();

  void Clear();

 private:
  RequestFields::Limits limits_;
  std::string bytes_;                             // names and values back to back
  std::vector<std::pair<size_t, size_t>> sizes_;  // (name, value) of each field
  std::vector<http::Header> fields_;              // views into bytes_, made by Finish
  size_t list_size_ = 0;
  bool over_limit_ = false;
};

}  // namespace outrigger::http2
