// The harness the whole-worker fuzz targets share (request_path_fuzz, http2_session_fuzz): a
// real forward::Worker, built from a config snapshot, serves scripted clients on its real
// listeners and forwards to scripted backends on loopback, all on the worker's own event
// loop, which the harness steps by hand (EVLOOP_NONBLOCK) between the script's actions.
//
// An input is kKnobBytes of config knobs (Knobs), then a script of actions, each an opcode
// byte and its arguments. The actions every target has (enum Op: raw client bytes,
// half-closes, resets, clients that stop reading; backend answers, closes and resets; loop
// steps, sleeps that let the proxy's timers fire, reloads, drain, the control thread's
// ticks) are Harness::Do's; what a client says in its protocol (kClientCanned and opcodes
// from kOpCount on) is the target's own.
//
// What a run checks beyond the sanitizers: once every peer has gone, the worker holds no
// connection (Harness::must_settle), and no descriptor outlives the input (OpenFds).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/forward/snapshot.h"
#include "proxy/forward/worker.h"
#include "proxy/metrics/collector.h"
#include "proxy/net/event.h"

namespace outrigger::forward::harness {

// ---- Ports ---------------------------------------------------------------------------------
// Loopback ports this process keeps for its whole life (see ThePorts in the .cc).
enum PortId { kListen0, kListen1, kBackendA, kBackendB, kBackendDead, kPortCount };

net::SocketAddress Loopback(PortId id);

// ---- Script --------------------------------------------------------------------------------
// Bytes are read front to back; past the end every byte reads 0.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::string_view Bytes(size_t n);

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

constexpr size_t kKnobBytes = 8;

struct Knobs {
  uint8_t pool;      // balance (bits 0-2), hash_on (3-4), panic_threshold 0/50/100 (5-6)
  uint8_t reuse;     // retries.attempts (0-1), keepalive (2-3), budget_percent (4)
  uint8_t breaker;   // consecutive_failures (0-1), max_connections (2-3), max_pending (4-5),
                     // open_for short (6)
  uint8_t timeouts;  // short header, idle, read, connect, tunnel (bits 0-4)
  uint8_t route;     // max_body (0-1), upgrades (2), trusted_proxies (3), max_connections (4-5)
  uint8_t shape;     // the first snapshot's Shape
  uint8_t spare[2];  // read, unused: later knobs must not shift the script

  // The knob bytes at the front of `in`.
  static Knobs Read(Reader& in);
};

// Which listeners and backends a snapshot has; a reload changes it.
struct Shape {
  uint8_t listeners;  // 0: web; 1: other, web; 2: web, other; 3: other
  uint8_t backends;   // bits: A, B, dead (none set: A)
  static Shape From(uint8_t b) {
    return {static_cast<uint8_t>(b & 3), static_cast<uint8_t>(b >> 2)};
  }
};

// Listener "web" (routes /, /b/ to pool side, host ws.test) on kListen0, "other" (/api/
// only) on kListen1; pools "main" (Shape's backends) and "side" (B). `h2c`: both listeners
// serve HTTP/2 by prior knowledge.
config::Config MakeConfig(const Knobs& k, Shape shape, bool h2c);

// ---- Scripted peers ------------------------------------------------------------------------

// One end of a loopback TCP connection, driven by the script: what it is told to send goes
// out as the socket takes it, and what arrives is read and dropped (unless paused).
struct Peer {
  int fd = -1;
  uint32_t connects = 0;  // connections made in this slot so far: a new one starts afresh
  std::string pending;    // told to send, not yet taken by the socket
  bool paused = false;    // stopped reading
  bool eof = false;       // the other side closed (or reset)

  ~Peer() { Close(/*reset=*/false); }
  void Close(bool reset);
  void Send(std::string_view bytes);
  // Sends and reads what the socket allows now; true when anything moved.
  bool Pump();
};

// Backend answers, for kBackendCanned.
extern const std::array<std::string_view, 12> kResponses;

// Bulk bytes a bulk action sends: 16 KiB per unit, up to 16 units, so the 128 KiB water
// marks of both directions are reachable.
std::string_view BulkUnit();

// ---- The run -------------------------------------------------------------------------------

enum Op : uint8_t {
  kClientSend,     // client, length, bytes
  kClientCanned,   // the target's own (Harness::Do does not take it)
  kClientBulk,     // client, units
  kClientShutWr,   // client
  kClientClose,    // client (bit 3: reset)
  kClientPause,    // client: stop or resume reading
  kBackendSend,    // backend connection (0: newest), length, bytes
  kBackendCanned,  // connection, which of kResponses
  kBackendBulk,    // connection, units
  kBackendClose,   // connection (bit 7: reset)
  kBackendPause,   // connection: stop or resume reading
  kRun,            // loop steps
  kSleep,          // milliseconds the loop may wait for a timer
  kReload,         // the new Shape
  kDrain,
  kControlTick,  // circuit half-open offers; bit 0: balancing panic on or off
  kOpCount,
};

constexpr int kClients = 4;
constexpr size_t kMaxActions = 256;

class Harness {
 public:
  Harness(const Knobs& knobs, bool h2c);
  ~Harness();
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  // Performs `op` (an Op other than kClientCanned) with its arguments from `in`, then steps
  // the loop (kRun and kSleep: steps it as they say).
  void Do(uint8_t op, Reader& in);

  // A client, connected on first use to listener 0 or (bit 2 of `b`) 1.
  Peer& Client(uint8_t b);
  // Lets the peers move what they can, then the worker; true when a peer moved anything.
  bool Step();

  // Every peer goes away (the backends stop listening first, so that no retry finds one);
  // the worker must then let go of every connection (checked, where must_settle()).
  void Finish();

  // Whether Finish must leave no connection: a request may wait for a connection slot only
  // under a small max_connections, and gives up only at the connect timeout.
  bool must_settle() const { return (knobs_.breaker & 12) == 0 || (knobs_.timeouts & 8) != 0; }
  size_t connection_count() const { return worker_->connection_count(); }

 private:
  Peer* BackendConn(uint8_t b);
  bool AcceptBackends();
  bool PumpPeers();
  void Settle();
  void Sleep(int ms);
  void Reload(Shape shape);
  void ControlTick(bool panic);

  const Knobs knobs_;
  const bool h2c_;
  Shape shape_;
  std::shared_ptr<const Snapshot> snapshot_;
  metrics::Collector collector_;
  std::unique_ptr<Worker> worker_;
  std::array<Peer, kClients> clients_;
  std::vector<int> backend_listeners_;
  std::vector<std::unique_ptr<Peer>> backend_conns_;
  net::EventPtr sleep_timer_;
  int slept_ms_ = 0;
};

// A target's run of one input (nullptr, 0: the empty input).
using RunInput = void (*)(const uint8_t* data, size_t size);

// LLVMFuzzerInitialize's work: SIGPIPE ignored, libevent set up, the proxy's log off
// (OUTRIGGER_FUZZ_LOG=debug shows it when reproducing a crash), the ports taken, and one empty
// run, so that what libraries open once and keep is open before descriptors are counted.
int Initialize(RunInput run);
// LLVMFuzzerTestOneInput's: `run`, then the check that no descriptor outlives the input.
int TestOneInput(RunInput run, const uint8_t* data, size_t size);

}  // namespace outrigger::forward::harness
