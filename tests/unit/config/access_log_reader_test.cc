// A listener's `access_log` and `request_id` sections: defaults, every key, and the errors
// of mistakes (with FILE:LINE:COL).
#include "proxy/config/access_log_reader.h"

#include <gtest/gtest.h>

#include <string>

#include "proxy/config/loader.h"

namespace outrigger::config {
namespace {

// A listener whose extra keys are `lines` (indented by 4, from line 4 of the file).
std::string ListenerWith(std::string_view lines) {
  return "listeners:\n  web:\n    listen: 127.0.0.1:8080\n" + std::string(lines) +
         "    routes:\n      - pool: api\npools:\n  api:\n    backends:\n"
         "      - address: 127.0.0.1:9001\n";
}

ListenerConfig Load(std::string_view lines) {
  absl::StatusOr<Config> c = LoadConfigString(ListenerWith(lines), "t.yaml");
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? c->listeners[0] : ListenerConfig{};
}

std::string Errors(std::string_view lines) {
  absl::StatusOr<Config> c = LoadConfigString(ListenerWith(lines), "t.yaml");
  EXPECT_FALSE(c.ok());
  return c.ok() ? "" : std::string(c.status().message());
}

TEST(AccessLogReaderTest, Defaults) {
  ListenerConfig l = Load("");
  EXPECT_EQ(l.access_log.format, AccessLogConfig::Format::kOff);
  EXPECT_TRUE(l.request_id.enabled);
  EXPECT_EQ(l.request_id.header, "X-Request-Id");
  EXPECT_TRUE(l.request_id.trust_incoming);
}

TEST(AccessLogReaderTest, EveryKey) {
  ListenerConfig l = Load(
      "    access_log: {format: combined, path: /var/log/o.log, sample: 0.25, slow: 250ms}\n"
      "    request_id: {header: X-Trace, trust_incoming: false}\n");
  EXPECT_EQ(l.access_log.format, AccessLogConfig::Format::kCombined);
  EXPECT_EQ(l.access_log.path, "/var/log/o.log");
  EXPECT_DOUBLE_EQ(l.access_log.sample, 0.25);
  EXPECT_EQ(l.access_log.slow, Duration(250));
  EXPECT_EQ(l.request_id.header, "X-Trace");
  EXPECT_FALSE(l.request_id.trust_incoming);
  EXPECT_EQ(Load("    access_log: {path: stderr}\n").access_log.format,
            AccessLogConfig::Format::kJson);
  EXPECT_EQ(Load("    access_log: off\n").access_log.format, AccessLogConfig::Format::kOff);
  EXPECT_FALSE(Load("    request_id: off\n").request_id.enabled);
}

TEST(AccessLogReaderTest, Mistakes) {
  EXPECT_EQ(Errors("    access_log: {format: xml}\n"),
            "t.yaml:4:26: listeners.web.access_log.format: expected json, combined or off, got "
            "\"xml\"");
  EXPECT_EQ(Errors("    access_log: {sample: 2}\n"),
            "t.yaml:4:26: listeners.web.access_log.sample: expected a share from 0 to 1 (e.g. "
            "0.1), got \"2\"");
  EXPECT_NE(
      Errors("    access_log: {slow: fast}\n").find("t.yaml:4:24: listeners.web.access_log.slow"),
      std::string::npos);
  EXPECT_EQ(Errors("    request_id: {header: \"X Id\"}\n"),
            "t.yaml:4:26: listeners.web.request_id.header: \"X Id\" is not a valid header name");
  EXPECT_EQ(Errors("    request_id: {trust_incoming: maybe}\n"),
            "t.yaml:4:34: listeners.web.request_id.trust_incoming: expected true or false, got "
            "\"maybe\"");
  EXPECT_NE(Errors("    access_log: {fromat: json}\n").find("t.yaml:4:"), std::string::npos);
}

TEST(AccessLogReaderTest, ARelativeFileIsBesideTheConfigFile) {
  absl::StatusOr<Config> c = LoadConfigString(
      ListenerWith("    access_log: {format: json, path: logs/access.log}\n"), "/etc/o/t.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->listeners[0].access_log.path, "/etc/o/logs/access.log");
  c = LoadConfigString(ListenerWith("    access_log: {format: json, path: stdout}\n"),
                       "/etc/o/t.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->listeners[0].access_log.path, "stdout");
}

}  // namespace
}  // namespace outrigger::config
