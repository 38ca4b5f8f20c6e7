// ParseDuration: an integer and exactly one unit, nothing guessed.
#include <gtest/gtest.h>

#include "proxy/config/loader.h"

namespace outrigger::config {
namespace {

// The parsed value in milliseconds, or -1 when it is rejected.
int64_t Millis(std::string_view text) {
  absl::StatusOr<Duration> d = ParseDuration(text);
  return d.ok() ? d->count() : -1;
}

TEST(ParseDurationTest, ReadsEveryUnit) {
  EXPECT_EQ(Millis("250ms"), 250);
  EXPECT_EQ(Millis("5s"), 5000);
  EXPECT_EQ(Millis("2m"), 120000);
  EXPECT_EQ(Millis("1h"), 3600000);
}

TEST(ParseDurationTest, AllowsZero) {
  EXPECT_EQ(Millis("0s"), 0);
  EXPECT_EQ(Millis("0ms"), 0);
}

TEST(ParseDurationTest, RejectsAMissingOrUnknownUnit) {
  EXPECT_EQ(Millis("5"), -1);
  EXPECT_EQ(Millis("5d"), -1);
  EXPECT_EQ(Millis("5S"), -1);
  EXPECT_EQ(Millis("5sec"), -1);
  EXPECT_EQ(Millis("5 s"), -1);
}

TEST(ParseDurationTest, RejectsFractionsSignsAndCompounds) {
  EXPECT_EQ(Millis("1.5s"), -1);
  EXPECT_EQ(Millis("-1s"), -1);
  EXPECT_EQ(Millis("+1s"), -1);
  EXPECT_EQ(Millis("1m30s"), -1);
  EXPECT_EQ(Millis(""), -1);
  EXPECT_EQ(Millis("s"), -1);
  EXPECT_EQ(Millis(" 5s"), -1);
}

TEST(ParseDurationTest, ExplainsTheExpectedFormat) {
  absl::StatusOr<Duration> d = ParseDuration("10");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(d.status().message(),
            "invalid duration \"10\": expected an integer and a unit (ms, s, m, h), e.g. 250ms, "
            "5s, 2m, 1h");
}

TEST(ParseDurationTest, CapsAtOneYearSoNanosecondArithmeticCannotOverflow) {
  EXPECT_EQ(Millis("8760h"), int64_t{8760} * 3600 * 1000);
  EXPECT_EQ(Millis("8761h"), -1);
  EXPECT_EQ(Millis("99999999999999999999999ms"), -1);
  EXPECT_EQ(ParseDuration("8761h").status().message(),
            "duration \"8761h\" is too long: the maximum is 8760h (one year)");
}

}  // namespace
}  // namespace outrigger::config
