// Every config shipped in conf/, conf/examples/ and conf/compose/ must load: users copy them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "proxy/config/loader.h"

namespace outrigger::config {
namespace {

namespace fs = std::filesystem;

// The source tree: $OUTRIGGER_SOURCE_DIR when set (ctest's integration tests set it),
// else three levels above this file (tests/unit/config/).
fs::path SourceDir() {
  if (const char* dir = std::getenv("OUTRIGGER_SOURCE_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
}

std::vector<fs::path> YamlFilesIn(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() &&
        (e.path().extension() == ".yaml" || e.path().extension() == ".yml")) {
      files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ConfFilesTest, EveryShippedConfigLoads) {
  std::vector<fs::path> files = YamlFilesIn(SourceDir() / "conf");
  std::vector<fs::path> examples = YamlFilesIn(SourceDir() / "conf" / "examples");
  files.insert(files.end(), examples.begin(), examples.end());
  // Beside docker-compose.yml (not ours to load).
  files.push_back(SourceDir() / "conf" / "compose" / "outrigger.yaml");
  ASSERT_GE(files.size(), 5u) << "expected conf/outrigger.yaml and the examples under "
                              << SourceDir();
  for (const fs::path& file : files) {
    absl::StatusOr<Config> config = LoadConfigFile(file.string());
    EXPECT_TRUE(config.ok()) << config.status().message();
  }
}

// The compose TLS variant names its certificate by the secret's path in the container; here
// the example certificate stands in for it.
TEST(ConfFilesTest, ComposeTlsConfigLoadsWithACertificateInPlace) {
  std::ifstream in(SourceDir() / "conf" / "compose" / "outrigger-tls.yaml");
  ASSERT_TRUE(in) << "conf/compose/outrigger-tls.yaml";
  std::stringstream text;
  text << in.rdbuf();
  const std::string example =
      fs::absolute(SourceDir() / "conf" / "examples" / "tls" / "example-only").string();
  std::string yaml = text.str();
  for (const char* ext : {".crt", ".key"}) {
    const std::string from = std::string("/run/secrets/site") + ext;
    const size_t at = yaml.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    yaml.replace(at, from.size(), example + ext);
  }
  const fs::path file =
      fs::temp_directory_path() / ("outrigger-compose-tls-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(file) << yaml;
  absl::StatusOr<Config> config = LoadConfigFile(file.string());
  fs::remove(file);
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_EQ(config->listeners.size(), 2u);
  EXPECT_TRUE(config->listeners[0].tls.has_value());
  EXPECT_EQ(config->listeners[1].redirect_https_port, 8443);
}

// scripts/demo starts backends on 127.0.0.1:9001-9003 and expects these addresses.
TEST(ConfFilesTest, DemoConfigMatchesWhatTheDemoScriptStarts) {
  absl::StatusOr<Config> config =
      LoadConfigFile((SourceDir() / "conf" / "outrigger.yaml").string());
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->admin.listen.ToString(), "127.0.0.1:9901");
  ASSERT_EQ(config->listeners.size(), 1u);
  EXPECT_EQ(config->listeners[0].listen.ToString(), "127.0.0.1:8080");
  ASSERT_EQ(config->pools.size(), 1u);
  const PoolConfig& pool = config->pools[0];
  ASSERT_EQ(pool.backends.size(), 3u);
  EXPECT_EQ(pool.backends[0].address.ToString(), "127.0.0.1:9001");
  EXPECT_EQ(pool.backends[1].address.ToString(), "127.0.0.1:9002");
  EXPECT_EQ(pool.backends[2].address.ToString(), "127.0.0.1:9003");
}

}  // namespace
}  // namespace outrigger::config
