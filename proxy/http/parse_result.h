#pragma once

#include <string_view>

namespace outrigger::http {

enum class ParseStatus {
  kIncomplete,  // no error so far, but the head has not ended yet
  kDone,        // the head is complete and valid; the output struct is filled in
  kError,       // the message is invalid; answer `status` and close the connection
};

struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  int http_status = 0;      // for kError: 400, 414, 431, 501 or 505 (responses: 502)
  std::string_view reason;  // for kError: a short static explanation for logs and error pages

  static constexpr ParseResult Incomplete() { return {}; }
  static constexpr ParseResult Done() { return {ParseStatus::kDone, 0, {}}; }
  static constexpr ParseResult Error(int code, std::string_view why) {
    return {ParseStatus::kError, code, why};
  }
};

}  // namespace outrigger::http
