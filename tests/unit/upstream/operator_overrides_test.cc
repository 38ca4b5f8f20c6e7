#include "proxy/upstream/operator_overrides.h"

#include <gtest/gtest.h>

namespace outrigger::upstream {
namespace {

net::SocketAddress Addr(const char* text) { return *net::ParseNumericAddress(text); }

TEST(OperatorOverridesTest, KeyedByPoolAndAddressNotByBackendObject) {
  OperatorOverrides o;
  o.Set("api", Addr("127.0.0.1:80"), {OperatorState::kDrain, std::nullopt});
  EXPECT_NE(o.Find("api", Addr("127.0.0.1:80")), nullptr);
  EXPECT_EQ(o.Find("web", Addr("127.0.0.1:80")), nullptr);
  EXPECT_EQ(o.Find("api", Addr("127.0.0.1:81")), nullptr);
  // A Backend built later for the same pool and address (a DNS change) gets it.
  Backend again("api", Addr("127.0.0.1:80"), "x");
  o.ApplyTo(again);
  EXPECT_TRUE(again.HasUnavailable(Backend::kOperatorOut));
  EXPECT_FALSE(again.HasUnavailable(Backend::kMaint));
}

TEST(OperatorOverridesTest, MaintAndWeightZeroTakeOutAndReadyClears) {
  OperatorOverrides o;
  Backend b("api", Addr("127.0.0.1:80"), "b");
  o.Set("api", b.address(), {OperatorState::kMaint, std::nullopt});
  o.ApplyTo(b);
  EXPECT_TRUE(b.HasUnavailable(Backend::kOperatorOut));
  EXPECT_TRUE(b.HasUnavailable(Backend::kMaint));
  EXPECT_TRUE(o.InMaint(b));
  o.Set("api", b.address(), {std::nullopt, 0u});
  o.ApplyTo(b);
  EXPECT_TRUE(b.HasUnavailable(Backend::kOperatorOut));
  EXPECT_FALSE(b.HasUnavailable(Backend::kMaint));
  o.Set("api", b.address(), {std::nullopt, 5u});
  o.ApplyTo(b);
  EXPECT_TRUE(b.Available());
  o.Set("api", b.address(), {});  // empty: erased
  EXPECT_EQ(o.Find("api", b.address()), nullptr);
  b.SetUnavailable(Backend::kDead, true);
  o.ApplyTo(b);  // leaves the other reasons alone
  EXPECT_TRUE(b.HasUnavailable(Backend::kDead));
}

}  // namespace
}  // namespace outrigger::upstream
