// DownstreamConnection after a 101 to a WebSocket upgrade: a byte tunnel both ways.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "proxy/balance/eligible.h"
#include "proxy/balance/peak_ewma.h"
#include "proxy/base/clock.h"
#include "proxy/base/log.h"
#include "proxy/forward/downstream_connection.h"
#include "proxy/forward/downstream_internal.h"
#include "proxy/forward/forwarded_fields.h"
#include "proxy/http/error_page.h"
#include "proxy/http/fields.h"
#include "proxy/http/head_writer.h"
#include "proxy/http/request_parser.h"
#include "proxy/http/response_parser.h"
#include "proxy/http/upgrade.h"
#include "proxy/net/cidr.h"
#include "proxy/net/event.h"
#include "proxy/upstream/caps.h"
#include "proxy/upstream/circuit_breaker.h"
#include "proxy/upstream/retry_policy.h"

namespace outrigger::forward {

using namespace downstream;  // the helpers of this class's files (downstream_internal.h)

void DownstreamConnection::StartTunnel() {
  attempt_.ReportOutcome(upstream::Outcome::kSuccess);
  EndAttempt(101);
  EndClientRequest(101);
  CountResponse(101);
  LogExchange(101, ex().log.response_head_bytes);
  shard().OnTunnelOpened(ex().metric_backend);
  ex().tunnel_open = true;
  state_ = State::kTunnel;
  ex().upstream_head.clear();
  // The tunnel keeps counting as an active request on its backend until it closes.
  net::Stream& up = attempt_.connection()->stream();
  up.SetReadTimeout(milliseconds(0));
  client_.SetReadTimeout(
      milliseconds(0));  // the head timeout left running; the tunnel's is ArmTimer's
  client_.EnableRead();
  up.EnableRead();
  ex().last_activity_ns = MonoNanos();
  ArmTimer(pool_->config->timeouts.tunnel);
  PumpTunnel();
}

void DownstreamConnection::PumpTunnel() {
  if (attempt_.connection() == nullptr) return;
  net::Stream& up = attempt_.connection()->stream();
  net::Stream& cl = client_;
  size_t moved = evbuffer_get_length(In(cl)) + evbuffer_get_length(In(up));
  if (moved > 0) ex().last_activity_ns = MonoNanos();
  evbuffer_add_buffer(Out(up), In(cl));
  evbuffer_add_buffer(Out(cl), In(up));
  if (up.unsent() > kHighWater) cl.DisableRead();
  if (cl.unsent() > kHighWater) up.DisableRead();
}

}  // namespace outrigger::forward
