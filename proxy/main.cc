// outrigger: command line. Parses flags, then hands off to app::Server, or with --check
// validates the config and prints every error as FILE:LINE:COL: message.
#include <getopt.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "proxy/app/ctl.h"
#include "proxy/app/server.h"
#include "proxy/base/log.h"
#include "proxy/cli/probe.h"
#include "proxy/config/loader.h"
#include "proxy/import_nginx/command.h"
#include "proxy/net/event.h"
#include "version.h"

namespace {

constexpr char kUsage[] =
    "usage: outrigger [-c FILE] [--check] [--log-level LEVEL]\n"
    "       outrigger ctl [--admin HOST:PORT] [--token-file FILE] COMMAND  (ctl --help)\n"
    "       outrigger probe [--timeout DURATION] URL\n"
    "       outrigger import-nginx FILE\n"
    "\n"
    "  -c, --config FILE    configuration file (default /etc/outrigger/outrigger.yaml)\n"
    "      --check          validate the configuration, print every error, and exit\n"
    "                       (0: valid, 1: invalid)\n"
    "      --log-level LVL  debug, info (default), warn or error\n"
    "  -v, --version        print the version and exit\n"
    "  -h, --help           print this help and exit\n"
    "\n"
    "Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the configuration.\n";

int Check(const std::string& path) {
  absl::StatusOr<outrigger::config::Config> cfg = outrigger::config::LoadConfigFile(path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", std::string(cfg.status().message()).c_str());
    return 1;
  }
  std::printf("%s: configuration is valid\n", path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Subcommands: tools beside the server, each with its own arguments.
  if (argc > 1) {
    const std::string_view sub = argv[1];
    if (sub == "ctl") return outrigger::app::RunCtl(argc - 2, argv + 2);
    if (sub == "probe") return outrigger::cli::ProbeMain(argc - 1, argv + 1);
    if (sub == "import-nginx") return outrigger::import_nginx::ImportNginxMain(argc - 1, argv + 1);
  }
  std::string config_path = "/etc/outrigger/outrigger.yaml";
  std::string log_level = "info";
  bool check = false;
  const option options[] = {{"config", required_argument, nullptr, 'c'},
                            {"check", no_argument, nullptr, 'k'},
                            {"log-level", required_argument, nullptr, 'l'},
                            {"version", no_argument, nullptr, 'v'},
                            {"help", no_argument, nullptr, 'h'},
                            {nullptr, 0, nullptr, 0}};
  for (int opt; (opt = getopt_long(argc, argv, "c:vh", options, nullptr)) != -1;) {
    switch (opt) {
      case 'c':
        config_path = optarg;
        break;
      case 'k':
        check = true;
        break;
      case 'l':
        log_level = optarg;
        break;
      case 'v':
        std::printf("outrigger %s\n", outrigger::kVersion);
        return 0;
      case 'h':
        std::fputs(kUsage, stdout);
        return 0;
      default:
        std::fputs(kUsage, stderr);
        return 2;
    }
  }
  if (optind < argc) {
    std::fprintf(stderr, "outrigger: unexpected argument \"%s\"\n%s", argv[optind], kUsage);
    return 2;
  }
  if (check) return Check(config_path);
  if (log_level != "debug" && log_level != "info" && log_level != "warn" && log_level != "error") {
    // spdlog maps an unknown name to "off": refuse it rather than run silently.
    std::fprintf(stderr, "outrigger: --log-level must be debug, info, warn or error, not \"%s\"\n",
                 log_level.c_str());
    return 2;
  }

  outrigger::app::Server::BlockSignals();  // before the first thread starts (see there)
  outrigger::InitLogging(log_level);
  outrigger::net::InitLibevent();
  outrigger::app::Server server(config_path);
  return server.Run();
}
