#include "proxy/upstream/dns_merge.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace outrigger::upstream {
namespace {

std::vector<net::SocketAddress> Addresses(const std::vector<std::string>& texts) {
  std::vector<net::SocketAddress> out;
  for (const std::string& t : texts) out.push_back(*net::ParseNumericAddress(t));
  return out;
}

std::vector<std::string> Texts(const std::vector<net::SocketAddress>& addresses) {
  std::vector<std::string> out;
  for (const auto& a : addresses) out.push_back(a.ToString());
  return out;
}

const std::vector<net::SocketAddress> kCurrent =
    Addresses({"127.0.0.2:80", "127.0.0.3:80", "[::1]:80", "[::2]:80"});

TEST(MergeRound, BothFamiliesAnsweredReplaceTheSet) {
  auto out = MergeRound(kCurrent, {{AF_INET, true, Addresses({"127.0.0.9:80"})},
                                   {AF_INET6, true, Addresses({"[::9]:80"})}});
  EXPECT_THAT(Texts(out), ::testing::ElementsAre("127.0.0.9:80", "[::9]:80"));
}

TEST(MergeRound, AnAAnswerWithoutItsAaaaKeepsTheAaaaAddresses) {
  auto out =
      MergeRound(kCurrent, {{AF_INET, true, Addresses({"127.0.0.9:80"})}, {AF_INET6, false, {}}});
  EXPECT_THAT(Texts(out), ::testing::ElementsAre("127.0.0.9:80", "[::1]:80", "[::2]:80"));
}

TEST(MergeRound, AnAaaaAnswerWithoutItsAKeepsTheAAddresses) {
  auto out =
      MergeRound(kCurrent, {{AF_INET6, true, Addresses({"[::9]:80"})}, {AF_INET, false, {}}});
  EXPECT_THAT(Texts(out), ::testing::ElementsAre("127.0.0.2:80", "127.0.0.3:80", "[::9]:80"));
}

TEST(MergeRound, AFamilyWithNoRecordLeft) {
  // "No such record" is an answer: that family's addresses go.
  auto out =
      MergeRound(kCurrent, {{AF_INET, true, Addresses({"127.0.0.2:80"})}, {AF_INET6, true, {}}});
  EXPECT_THAT(Texts(out), ::testing::ElementsAre("127.0.0.2:80"));
}

TEST(MergeRound, BothFailedKeepsEverything) {
  auto out = MergeRound(kCurrent, {{AF_INET, false, {}}, {AF_INET6, false, {}}});
  EXPECT_EQ(Texts(out), Texts(kCurrent));
}

TEST(MergeRound, SortsAndDropsDuplicates) {
  auto out =
      MergeRound({}, {{AF_INET, true, Addresses({"127.0.0.3:80", "127.0.0.2:80", "127.0.0.3:80"})},
                      {AF_INET6, true, Addresses({"[::2]:80", "[::1]:80"})}});
  EXPECT_THAT(Texts(out),
              ::testing::ElementsAre("127.0.0.2:80", "127.0.0.3:80", "[::1]:80", "[::2]:80"));
}

}  // namespace
}  // namespace outrigger::upstream
