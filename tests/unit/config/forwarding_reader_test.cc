// A listener's `normalize`, `forwarded_for` and `forwarded` keys: defaults, values, and the
// exact "FILE:LINE:COL: message" of a wrong one.
#include "proxy/config/forwarding_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "proxy/config/loader.h"

namespace outrigger::config {
namespace {

constexpr std::string_view kTail =
    "    routes:\n"
    "      - pool: api\n"
    "pools:\n"
    "  api:\n"
    "    backends:\n"
    "      - address: 127.0.0.1:9001\n";

// A listener whose keys after `listen` are `keys` (each line indented by four spaces).
std::string Listener(std::string_view keys) {
  return "listeners:\n  web:\n    listen: 127.0.0.1:8080\n" + std::string(keys) +
         std::string(kTail);
}

TEST(ForwardingReaderTest, Defaults) {
  absl::StatusOr<Config> config = LoadConfigString(Listener(""), "t.yaml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  const ListenerConfig& web = config->listeners[0];
  EXPECT_TRUE(web.normalize.merge_slashes);
  EXPECT_EQ(web.normalize.escaped_slashes, EscapedSlashes::kKeep);
  EXPECT_EQ(web.forwarded_for, ForwardedForMode::kReplace);
  EXPECT_FALSE(web.forwarded_rfc7239);
}

TEST(ForwardingReaderTest, ReadsEveryKey) {
  absl::StatusOr<Config> config =
      LoadConfigString(Listener("    normalize: { merge_slashes: false, escaped_slashes: decode }\n"
                                "    forwarded_for: append\n"
                                "    forwarded: rfc7239\n"),
                       "t.yaml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  const ListenerConfig& web = config->listeners[0];
  EXPECT_FALSE(web.normalize.merge_slashes);
  EXPECT_EQ(web.normalize.escaped_slashes, EscapedSlashes::kDecode);
  EXPECT_EQ(web.forwarded_for, ForwardedForMode::kAppend);
  EXPECT_TRUE(web.forwarded_rfc7239);

  config = LoadConfigString(Listener("    normalize: { escaped_slashes: reject }\n"
                                     "    forwarded_for: replace\n    forwarded: off\n"),
                            "t.yaml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->listeners[0].normalize.escaped_slashes, EscapedSlashes::kReject);
  EXPECT_FALSE(config->listeners[0].forwarded_rfc7239);
}

TEST(ForwardingReaderTest, NamesFileLineAndKeyOfAWrongValue) {
  absl::StatusOr<Config> config = LoadConfigString(Listener("    normalize:\n"
                                                            "      escaped_slashes: decod\n"
                                                            "      merge_slashes: yes\n"
                                                            "      merge: true\n"
                                                            "    forwarded_for: prepend\n"
                                                            "    forwarded: rfc7293\n"),
                                                   "t.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(std::string(config.status().message()),
            "t.yaml:5:24: listeners.web.normalize.escaped_slashes: expected one of: keep, "
            "reject, decode, got \"decod\"; did you mean `decode`?\n"
            "t.yaml:6:22: listeners.web.normalize.merge_slashes: expected one of: false, true, "
            "got \"yes\"\n"
            "t.yaml:7:7: listeners.web.normalize: unknown key `merge` (expected one of: "
            "merge_slashes, escaped_slashes)\n"
            "t.yaml:8:20: listeners.web.forwarded_for: expected one of: replace, append, got "
            "\"prepend\"\n"
            "t.yaml:9:16: listeners.web.forwarded: expected one of: off, rfc7239, got "
            "\"rfc7293\"; did you mean `rfc7239`?");
}

}  // namespace
}  // namespace outrigger::config
