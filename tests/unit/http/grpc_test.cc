#include "proxy/http/grpc.h"

#include <gtest/gtest.h>

#include <limits>

namespace outrigger::http {
namespace {

TEST(GrpcTest, RecognizesGrpcContentTypesOnly) {
  for (const char* yes : {"application/grpc", "application/grpc+proto", "application/grpc+json",
                          "Application/GRPC", "application/grpc;charset=utf-8"}) {
    EXPECT_TRUE(IsGrpcContentType(yes)) << yes;
  }
  for (const char* no : {"", "application/json", "application/grpc-web", "application/grpcx",
                         "application/grp", "text/grpc"}) {
    EXPECT_FALSE(IsGrpcContentType(no)) << no;
  }
}

TEST(GrpcTest, ParsesEveryTimeoutUnit) {
  EXPECT_EQ(ParseGrpcTimeout("1H"), 3600LL * 1000000000LL);
  EXPECT_EQ(ParseGrpcTimeout("2M"), 120LL * 1000000000LL);
  EXPECT_EQ(ParseGrpcTimeout("3S"), 3LL * 1000000000LL);
  EXPECT_EQ(ParseGrpcTimeout("250m"), 250LL * 1000000LL);
  EXPECT_EQ(ParseGrpcTimeout("99999999u"), 99999999LL * 1000LL);
  EXPECT_EQ(ParseGrpcTimeout("7n"), 7LL);
  EXPECT_EQ(ParseGrpcTimeout("0S"), 0LL);
}

TEST(GrpcTest, SaturatesATimeoutTooLongForNanoseconds) {
  EXPECT_EQ(ParseGrpcTimeout("99999999H"), std::numeric_limits<int64_t>::max());
}

TEST(GrpcTest, RefusesMalformedTimeouts) {
  for (const char* bad : {"", "S", "10", "123456789S", "1s", "1 S", "-1S", "1.5S", "1SS"}) {
    EXPECT_FALSE(ParseGrpcTimeout(bad).has_value()) << bad;
  }
}

TEST(GrpcTest, MapsTheProxysOwnErrorsToRetryableOrDeadlineStatuses) {
  EXPECT_EQ(GrpcStatusForHttp(504), GrpcStatus::kDeadlineExceeded);
  EXPECT_EQ(GrpcStatusForHttp(502), GrpcStatus::kUnavailable);
  EXPECT_EQ(GrpcStatusForHttp(503), GrpcStatus::kUnavailable);
  EXPECT_EQ(GrpcStatusForHttp(429), GrpcStatus::kUnavailable);
  EXPECT_EQ(GrpcStatusForHttp(404), GrpcStatus::kUnimplemented);
  EXPECT_EQ(GrpcStatusForHttp(401), GrpcStatus::kUnauthenticated);
  EXPECT_EQ(GrpcStatusForHttp(500), GrpcStatus::kUnknown);
}

TEST(GrpcTest, PercentEncodesTheMessage) {
  EXPECT_EQ(EncodeGrpcMessage("no backend"), "no backend");
  EXPECT_EQ(EncodeGrpcMessage("100% \xc3\xa9\n"), "100%25 %C3%A9%0A");
}

TEST(GrpcTest, ClassifiesStatusesForMetrics) {
  EXPECT_EQ(GrpcStatusClass("0"), "ok");
  EXPECT_EQ(GrpcStatusClass("5"), "client");
  EXPECT_EQ(GrpcStatusClass("16"), "client");
  EXPECT_EQ(GrpcStatusClass("14"), "server");
  EXPECT_EQ(GrpcStatusClass("4"), "server");
  EXPECT_EQ(GrpcStatusClass("17"), "invalid");
  EXPECT_EQ(GrpcStatusClass("x"), "invalid");
  EXPECT_EQ(GrpcStatusClass(""), "invalid");
  EXPECT_EQ(GrpcStatusClass("123"), "invalid");
  EXPECT_EQ(GrpcStatusClass("-1"), "invalid");
}

TEST(GrpcTest, ClassifiesTheProxysOwnStatuses) {
  // The Trailers-Only answers the proxy makes: no backend (14), the deadline (4).
  EXPECT_EQ(ClassifyGrpcStatus(GrpcStatus::kUnavailable), GrpcClass::kServer);
  EXPECT_EQ(ClassifyGrpcStatus(GrpcStatus::kDeadlineExceeded), GrpcClass::kServer);
  EXPECT_EQ(ClassifyGrpcStatus(GrpcStatus::kOk), GrpcClass::kOk);
  EXPECT_EQ(ClassifyGrpcStatus(GrpcStatus::kCancelled), GrpcClass::kClient);
  EXPECT_EQ(ClassifyGrpcStatus(GrpcStatus::kUnauthenticated), GrpcClass::kClient);
  EXPECT_EQ(ClassifyGrpcStatus(GrpcStatus::kInternal), GrpcClass::kServer);
  EXPECT_EQ(ClassifyGrpcStatus(GrpcStatusForHttp(503)), GrpcClass::kServer);
  EXPECT_EQ(ClassifyGrpcStatus(GrpcStatusForHttp(404)), GrpcClass::kClient);  // UNIMPLEMENTED
}

}  // namespace
}  // namespace outrigger::http
