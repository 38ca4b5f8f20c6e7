// Fuzzes the config loader (YAML → validated Config). An operator writes the file, but a
// reload takes whatever is on disk, and a loader that crashes on a typo takes the running
// proxy down with it: every input must either load or come back as errors that each name
// FILE:LINE:COL, never crash, hang or leak.
#include <netdb.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "proxy/config/loader.h"

// Backend addresses may be host names, resolved at load. A fuzzer must not query DNS (slow,
// and not hermetic): this definition takes the place of libc's, so every name is unknown.
extern "C" int getaddrinfo(const char*, const char*, const struct addrinfo*, struct addrinfo**) {
  return EAI_NONAME;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<outrigger::config::Config> config =
      outrigger::config::LoadConfigString(input, "fuzz.yaml");
  if (config.ok()) {
    FUZZ_CHECK(!config->listeners.empty() && !config->pools.empty());
    for (const auto& listener : config->listeners) {
      FUZZ_CHECK(!listener.routes.empty());
      FUZZ_CHECK(listener.max_connections >= 1);
      for (const auto& route : listener.routes) {
        FUZZ_CHECK(config->FindPool(route.pool) != nullptr);
        FUZZ_CHECK(!route.path_prefix.empty() && route.path_prefix.front() == '/');
      }
    }
    for (const auto& pool : config->pools) FUZZ_CHECK(!pool.backends.empty());
  } else {
    const std::string message(config.status().message());
    FUZZ_CHECK(!message.empty());
    // Every error line points into the file.
    size_t start = 0;
    while (start < message.size()) {
      size_t end = message.find('\n', start);
      if (end == std::string::npos) end = message.size();
      FUZZ_CHECK(message.substr(start, end - start).starts_with("fuzz.yaml"));
      start = end + 1;
    }
  }
  return 0;
}
