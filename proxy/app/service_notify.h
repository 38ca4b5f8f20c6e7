// Readiness for a service manager: systemd's `Type=notify` learns through sd_notify(3) when
// the listeners are bound and the workers run (READY=1), when a reload starts and ends
// (RELOADING=1, then READY=1 whatever its result) and when a drain begins (STOPPING=1), with a
// STATUS= line for `systemctl status`.
//
// Each call does nothing when the binary was built without libsystemd or when the process
// was not started with $NOTIFY_SOCKET (anything but systemd), so callers need not ask.
// Control thread only; a call is one non-blocking datagram.
#pragma once

#include <string_view>

namespace outrigger::app {

void NotifyReady(std::string_view status);
void NotifyReloading();
void NotifyStopping(std::string_view status);

}  // namespace outrigger::app
