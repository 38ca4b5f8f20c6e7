#include "proxy/app/service_notify.h"

#include <time.h>

#include <string>

#ifdef OUTRIGGER_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace outrigger::app {
namespace {

void Notify([[maybe_unused]] const std::string& state) {
#ifdef OUTRIGGER_HAVE_SYSTEMD
  // A failure (no manager listening any more) changes nothing for the proxy: ignored.
  sd_notify(0, state.c_str());
#endif
}

// STATUS= ends at a newline: the status must not carry one of its own.
std::string StatusLine(std::string_view status) {
  std::string line = "STATUS=";
  for (char c : status) line.push_back(c == '\n' ? ' ' : c);
  return line;
}

}  // namespace

void NotifyReady(std::string_view status) { Notify("READY=1\n" + StatusLine(status)); }

void NotifyReloading() {
  // MONOTONIC_USEC lets systemd 253's Type=notify-reload match the reload to the signal.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long usec = static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
  Notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading");
}

void NotifyStopping(std::string_view status) { Notify("STOPPING=1\n" + StatusLine(status)); }

}  // namespace outrigger::app
