// The access log's record of one request and its two line formats: JSON (one object per
// line, every key always present, null when not applicable) and nginx's `combined`.
//
// The record lives in the request's Exchange and its strings keep their capacity between
// requests, so filling and formatting it allocates nothing once a worker is warm.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace outrigger::log {

enum class Format : uint8_t { kOff, kJson, kCombined };

// How the exchange ended, for `termination`.
enum class Termination : uint8_t {
  kOk,                // a response went out whole (whatever its status)
  kClientClosed,      // the client went away before its response was complete
  kClientTimeout,     // the request head did not arrive in time (408)
  kBadRequest,        // the request was malformed (400, 414, 431, …)
  kLimit,             // a limit refused it (413 max_body)
  kNoRoute,           // no route for its host and path (404)
  kNoBackend,         // the pool had no backend for it, or all were at their caps (503)
  kUpstreamConnect,   // no backend could be connected to (502)
  kUpstreamTimeout,   // a backend did not answer in time (504)
  kUpstreamReset,     // a backend closed or reset the connection (502, or a cut response)
  kUpstreamProtocol,  // a backend's response was not valid HTTP (502)
};
std::string_view TerminationName(Termination t);

struct AccessRecord {
  // Set when the request head was parsed; false for a line about a head that never parsed
  // (400, 408, 431), whose request fields are then null.
  bool has_request = false;
  int64_t start_unix_ms = 0;  // wall clock when the head was complete
  int64_t start_ns = 0;       // monotonic, same instant
  std::string method;
  std::string target;  // path and query as received
  std::string host;
  std::string user_agent;
  bool has_user_agent = false;
  std::string referer;
  bool has_referer = false;
  std::string client;
  std::string request_id;
  char trace_id[32] = {};
  std::string_view tls_version;  // "TLSv1.3" (static text); empty: not over TLS
  std::string sni;               // the TLS server name the client asked for
  bool has_sni = false;
  bool has_trace_id = false;
  int version_minor = 1;

  // Filled as the exchange runs.
  std::string_view pool;  // points into the snapshot the request holds
  std::string backend;    // the last attempt's backend, as in metrics (its label)
  uint32_t attempts = 0;
  int64_t connect_ns = -1;  // the last attempt's connect (-1: a pooled connection, or none)
  int64_t header_ns = -1;   // its first request byte sent → response head received
  uint64_t response_head_bytes = 0;
  Termination termination = Termination::kOk;

  // Clears the per-request fields (keeps capacity).
  void Reset();
};

// What the line needs beyond the record, known when the exchange ends.
struct LineEnd {
  std::string_view listener;
  int status = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  int64_t duration_ns = 0;
};

// Formats wall-clock times for the lines, recomputing the calendar part once a second.
class TimeCache {
 public:
  static constexpr size_t kRfc3339Size = 24;  // "2026-12-05T00:21:01.123Z"
  static constexpr size_t kCommonSize = 26;   // "05/Dec/2026:00:21:01 +0000"
  // Each writes its text at `out` (room for its size) and returns the end of it.
  char* Rfc3339(int64_t unix_ms, char* out);
  char* Common(int64_t unix_ms, char* out);
  // The wall clock (ms since the epoch) at monotonic instant `mono_ns`, from an offset
  // between the two clocks read at most once a second: a step of the wall clock shows in
  // the lines within a second, and a line costs no clock_gettime of its own.
  int64_t UnixMillis(int64_t mono_ns);

 private:
  void Update(int64_t unix_s);
  int64_t second_ = -1;
  int64_t offset_ns_ = 0;             // wall clock minus monotonic clock
  int64_t next_sync_ns_ = INT64_MIN;  // monotonic instant to read both clocks again
  char rfc3339_[20] = {};             // "YYYY-MM-DDTHH:MM:SS"
  char common_[27] = {};              // "DD/Mon/YYYY:HH:MM:SS +0000"
};

// The trace id (32 lowercase hex digits) of a W3C traceparent value
// ("00-<trace-id>-<parent-id>-<flags>"), or false when it is not one.
bool TraceIdOf(std::string_view traceparent, char* trace_id);

// Append one line, with its trailing '\n'.
void AppendJsonLine(const AccessRecord& r, const LineEnd& end, TimeCache* clock, std::string* out);
void AppendCombinedLine(const AccessRecord& r, const LineEnd& end, TimeCache* clock,
                        std::string* out);

// The same lines written in place: the Bound is the most bytes the line can take, and the
// Write writes it at `room` (that many bytes at least) and returns its end.
size_t JsonLineBound(const AccessRecord& r, const LineEnd& end);
char* WriteJsonLine(const AccessRecord& r, const LineEnd& end, TimeCache* clock, char* room);
size_t CombinedLineBound(const AccessRecord& r);
char* WriteCombinedLine(const AccessRecord& r, const LineEnd& end, TimeCache* clock, char* room);

}  // namespace outrigger::log
