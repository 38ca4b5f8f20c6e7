#include "proxy/upstream/retry_policy.h"

namespace outrigger::upstream {

bool IsRetryable(http::Method method, bool request_bytes_sent, bool body_fully_buffered) {
  if (!body_fully_buffered) return false;
  if (!request_bytes_sent) return true;
  return http::IsIdempotent(method);
}

}  // namespace outrigger::upstream
