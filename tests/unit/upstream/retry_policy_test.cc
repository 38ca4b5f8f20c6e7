#include "proxy/upstream/retry_policy.h"

#include <gtest/gtest.h>

namespace outrigger::upstream {
namespace {

using http::Method;

constexpr Method kAllMethods[] = {
    Method::kGet,     Method::kHead,  Method::kPost,  Method::kPut,     Method::kDelete,
    Method::kOptions, Method::kPatch, Method::kTrace, Method::kConnect, Method::kOther};

TEST(RetryPolicyTest, AnyMethodMayRetryWhenNothingWasSent) {
  for (Method m : kAllMethods) {
    EXPECT_TRUE(IsRetryable(m, /*request_bytes_sent=*/false, /*body_fully_buffered=*/true))
        << static_cast<int>(m);
  }
}

TEST(RetryPolicyTest, IdempotentMethodsMayRetryAfterSending) {
  for (Method m : {Method::kGet, Method::kHead, Method::kPut, Method::kDelete, Method::kOptions,
                   Method::kTrace}) {
    EXPECT_TRUE(IsRetryable(m, true, true)) << static_cast<int>(m);
  }
}

TEST(RetryPolicyTest, NonIdempotentMethodsMayNotRetryAfterSending) {
  for (Method m : {Method::kPost, Method::kPatch, Method::kConnect, Method::kOther}) {
    EXPECT_FALSE(IsRetryable(m, true, true)) << static_cast<int>(m);
  }
}

TEST(RetryPolicyTest, NothingRetriesOnceTheBodyStreamedBeyondTheBuffer) {
  for (Method m : kAllMethods) {
    EXPECT_FALSE(IsRetryable(m, true, false)) << static_cast<int>(m);
    EXPECT_FALSE(IsRetryable(m, false, false)) << static_cast<int>(m);
  }
}

}  // namespace
}  // namespace outrigger::upstream
