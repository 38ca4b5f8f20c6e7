#include "proxy/http/upgrade.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace outrigger::http {
namespace {

const std::vector<std::string> kWebSocketOnly{"websocket"};

TEST(UpgradeTest, AllowsAListOfAllowedProtocols) {
  EXPECT_TRUE(UpgradesAllowed({{"Upgrade", "websocket"}}, kWebSocketOnly));
  EXPECT_TRUE(UpgradesAllowed({{"upgrade", "WebSocket/13"}}, kWebSocketOnly));
  EXPECT_TRUE(UpgradesAllowed({{"Upgrade", "websocket, , h2c"}}, {"h2c", "websocket"}));
  EXPECT_TRUE(UpgradesAllowed({{"Host", "x"}}, kWebSocketOnly));
}

TEST(UpgradeTest, RefusesAListWithOneProtocolNotAllowed) {
  EXPECT_FALSE(UpgradesAllowed({{"Upgrade", "h2c, websocket"}}, kWebSocketOnly));
  EXPECT_FALSE(UpgradesAllowed({{"Upgrade", "websocket, h2c/2"}}, kWebSocketOnly));
  // A second Upgrade line is part of the same list.
  EXPECT_FALSE(UpgradesAllowed({{"Upgrade", "websocket"}, {"Upgrade", "h2c"}}, kWebSocketOnly));
  EXPECT_FALSE(UpgradesAllowed({{"Upgrade", "websocketx"}}, kWebSocketOnly));
}

TEST(UpgradeTest, CopiesEveryUpgradeLineAsOneList) {
  std::string list = "left over";
  CopyUpgradeList({{"Upgrade", "websocket"}, {"Host", "x"}, {"UPGRADE", "h2c"}}, &list);
  EXPECT_EQ(list, "websocket, h2c");
}

TEST(UpgradeTest, A101MustSwitchToARequestedProtocol) {
  EXPECT_TRUE(SwitchesToRequested({{"Upgrade", "WebSocket"}}, "websocket/13"));
  EXPECT_TRUE(
      SwitchesToRequested({{"Connection", "upgrade"}, {"upgrade", "h2c"}}, "websocket, h2c"));
  EXPECT_FALSE(SwitchesToRequested({{"Upgrade", "h2c"}}, "websocket"));
  EXPECT_FALSE(SwitchesToRequested({{"Upgrade", "websocket, h2c"}}, "websocket"));
  EXPECT_FALSE(SwitchesToRequested({{"Connection", "upgrade"}}, "websocket"));
  EXPECT_FALSE(SwitchesToRequested({{"Upgrade", " , "}}, "websocket"));
}

}  // namespace
}  // namespace outrigger::http
