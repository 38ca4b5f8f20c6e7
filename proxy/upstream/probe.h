// Probe: what HealthChecker runs on one backend, whatever the kind of check (config
// ProbeType): an HTTP/1.1 GET (HttpProbe) or a gRPC health check (GrpcProbe).
//
// Loop affinity: the control thread's loop.
#pragma once

#include <functional>
#include <string>

namespace outrigger::upstream {

struct ProbeResult {
  bool ok = false;
  std::string detail;  // why it failed ("status 503", "NOT_SERVING", "connection refused")
};

class Probe {
 public:
  using Done = std::function<void(const ProbeResult&)>;

  virtual ~Probe() = default;

  // Sends one probe; `done` runs once with its result (on the loop, or from inside Run when
  // the probe cannot even start), unless the probe is destroyed first (then never). The whole
  // probe, connect included, is bounded by its config's `timeout`. REQUIRES: no probe of this
  // object is outstanding; `done` does not destroy the probe.
  virtual void Run(Done done) = 0;
  virtual bool running() const = 0;
};

}  // namespace outrigger::upstream
