#include "proxy/upstream/outcome.h"

#include <gtest/gtest.h>

#include <optional>
#include <string_view>

namespace outrigger::upstream {
namespace {

struct Case {
  Outcome outcome;
  bool failure;
  std::optional<std::string_view> reason;
};

constexpr Case kCases[] = {
    {Outcome::kSuccess, false, std::nullopt},
    {Outcome::kLocalConnectFailed, true, "connect"},
    {Outcome::kLocalTimeout, true, "timeout"},
    {Outcome::kUpstreamReset, true, "reset"},
    {Outcome::kUpstreamProtocolError, true, "protocol"},
    {Outcome::kUpstream5xx, true, std::nullopt},
    {Outcome::kDownstreamReset, false, std::nullopt},
};

TEST(OutcomeTest, EveryOutcomeHasItsFailureVerdictAndReason) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(static_cast<int>(c.outcome));
    EXPECT_EQ(CountsAsFailure(c.outcome), c.failure);
    EXPECT_EQ(FailureReason(c.outcome), c.reason);
  }
}

TEST(OutcomeTest, EveryReasonIsAFailure) {
  for (const Case& c : kCases) {
    if (FailureReason(c.outcome)) {
      EXPECT_TRUE(CountsAsFailure(c.outcome));
    }
  }
}

TEST(OutcomeTest, DownstreamResetIsNotTheBackendsFault) {
  EXPECT_FALSE(CountsAsFailure(Outcome::kDownstreamReset));
}

TEST(OutcomeTest, GatewayStatusesAreUpstream5xx) {
  EXPECT_EQ(OutcomeOfStatus(502), Outcome::kUpstream5xx);
  EXPECT_EQ(OutcomeOfStatus(503), Outcome::kUpstream5xx);
  EXPECT_EQ(OutcomeOfStatus(504), Outcome::kUpstream5xx);
}

TEST(OutcomeTest, OtherStatusesAreSuccessForTheBackend) {
  for (int status : {100, 200, 204, 301, 404, 429, 500, 501, 505, 599}) {
    EXPECT_EQ(OutcomeOfStatus(status), Outcome::kSuccess) << status;
  }
}

TEST(OutcomeTest, ClassificationIsUsableAtCompileTime) {
  static_assert(CountsAsFailure(Outcome::kLocalTimeout));
  static_assert(FailureReason(Outcome::kLocalConnectFailed) == "connect");
  static_assert(OutcomeOfStatus(503) == Outcome::kUpstream5xx);
}

}  // namespace
}  // namespace outrigger::upstream
