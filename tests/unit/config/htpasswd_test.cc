// The basic_auth users file: slow hashes taken, weak ones and mistakes refused with the
// file's line and the user.
#include "proxy/config/htpasswd.h"

#include <gtest/gtest.h>

#include <string>

namespace outrigger::config {
namespace {

// Real hashes of "pw": bcrypt cost 4, SHA-256-crypt, SHA-512-crypt.
constexpr char kBcrypt[] = "$2b$04$HUHWyhBnOEi6A5ZXM8bDsefbD21SbbcduOHocj2VBWT/uV/6KvmMm";
constexpr char kSha256[] = "$5$saltsalt$0rl.MZtoLLPP3X0Rdl8riRnphIcAXJY27/aOAyK2hB5";
constexpr char kSha512[] =
    "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH"
    "2xk/";

TEST(HtpasswdTest, TakesSlowHashesSkippingCommentsAndBlankLines) {
  const std::string text =
      std::string("# staff\n\nalice:") + kBcrypt + "\r\nbob:" + kSha256 +
      "\n  # indented comment\ncarol:" + kSha512 +
      "\ndave:$y$j9T$F5Jx5fExrKuPp53xLKQ..1$U4SOHmDd8SvW5vCUKSMR6N835VPwFAtgYNhQ9mFFeL5\n"
      "erin:$5$rounds=1000$salt$gdEupGonUIiJCMc1vfHpiFjFhRA3Jf3USQ7IYKjZitD\n";
  absl::StatusOr<std::vector<HtpasswdUser>> users = ParseHtpasswd(text, "users");
  ASSERT_TRUE(users.ok()) << users.status().message();
  ASSERT_EQ(users->size(), 5u);
  EXPECT_EQ((*users)[0], (HtpasswdUser{"alice", kBcrypt}));
  EXPECT_EQ((*users)[1], (HtpasswdUser{"bob", kSha256}));
  EXPECT_EQ((*users)[2].name, "carol");
}

TEST(HtpasswdTest, RefusesWeakHashesAndMistakesNamingLineAndUser) {
  const std::string text = std::string("md5:$apr1$abc$0123456789012345678901\n") +
                           "sha1:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n" + "des:abJnggxhB/yWI\n" +
                           "nocolon\n" + "bad:$2b$04$short\n" + "alice:" + kBcrypt + "\n" +
                           "alice:" + kSha256 + "\n";
  absl::StatusOr<std::vector<HtpasswdUser>> users = ParseHtpasswd(text, "users");
  ASSERT_FALSE(users.ok());
  const std::string hint =
      "; write bcrypt (`htpasswd -B`) or SHA-crypt (`openssl passwd -6`) hashes";
  EXPECT_EQ(std::string(users.status().message()),
            "users:1: user \"md5\": an MD5 hash" + hint + "\n" +
                "users:2: user \"sha1\": a SHA-1 hash" + hint + "\n" +
                "users:3: user \"des\": not a bcrypt, SHA-crypt or yescrypt hash" + hint + "\n" +
                "users:4: expected `user:hash`\n" + "users:5: user \"bad\": a malformed hash" +
                hint + "\n" + "users:7: user \"alice\" again");
}

TEST(HtpasswdTest, AnEmptyOrMissingFileIsAnError) {
  EXPECT_EQ(std::string(ParseHtpasswd("# nobody\n", "users").status().message()),
            "users: no users");
  EXPECT_EQ(std::string(ReadHtpasswd("/nonexistent/users").status().message()),
            "/nonexistent/users: cannot be read");
}

}  // namespace
}  // namespace outrigger::config
