// Plugin: one entry of a route's `plugins:` list (README "Plugins"), built once per config
// snapshot from its config (config/plugin_config.h) and shared, const, by every worker.
//
// A plugin knows requests and responses, never sockets, backends or codecs. It takes part in
// the request phase (top-down: it may edit the request or answer it locally, which ends the
// phase), the response phase (bottom-up, from the last plugin that ran: it may edit the
// response's fields, and ask for its body to be encoded) and the log phase (bottom-up too:
// it sees how the exchange ended). Its per-request scratch is the Context, which the exchange owns
// and reuses, so running a chain allocates nothing once warm.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/compress/body_encoder.h"
#include "plugins/store/store_wait.h"
#include "proxy/base/clock.h"
#include "proxy/config/template.h"
#include "proxy/http/head_writer.h"
#include "proxy/http/message.h"
#include "proxy/metrics/shard.h"

namespace outrigger::plugins {

// An answer a plugin makes itself (respond, redirect, 403, 429).
struct LocalAnswer {
  int status = 0;  // 0: none
  std::string_view content_type;
  std::string_view body;
  std::vector<http::Header> headers;  // Location, Retry-After...
};

class Stores;

// How an exchange ended, for the log phase.
struct ExchangeEnd {
  int status = 0;           // as the access log says it (499: the client left first)
  uint64_t bytes_out = 0;   // the response's bytes to the client, head and body as sent
  int64_t duration_ns = 0;  // from the request head to the end (0 where metrics are off)
};

// One request as the plugins see it; the exchange keeps one and calls Begin per request.
class Context {
 public:
  // `request` stays the exchange's, and is valid in the request phase only: its path may be
  // replaced (SetPath). `vars` are the request's variables, $path the path's part before its
  // '?' (a rewrite finds the query by it); $path and $query follow SetPath. `stores` are
  // the worker's.
  void Begin(http::RequestHead* request, const config::TemplateValues& vars, metrics::Shard* shard,
             Stores* stores) {
    Begin(request, shard, stores) = vars;
  }
  // Begin for a caller that sets every variable in place, into what this returns: the
  // request path spares a copy of them.
  config::TemplateValues& Begin(http::RequestHead* request, metrics::Shard* shard, Stores* stores);

  http::RequestHead& request() { return *request_; }
  const config::TemplateValues& vars() const { return vars_; }
  std::string_view client_ip() const { return vars_.Get(config::TemplateVar::kRemoteAddr); }

  // Replaces the path (and query) forwarded. `path` must stay valid while the request is
  // served: a NewString() or the config's own bytes.
  void SetPath(std::string_view path) { SetPath(path, std::min(path.find('?'), path.size())); }
  // SetPath for a caller that knows where the query starts: `path_size` bytes before it
  // (path.size() without a query).
  void SetPath(std::string_view path, size_t path_size) {
    request_->path = path;
    vars_.Set(config::TemplateVar::kPath, path.substr(0, path_size));
    vars_.Set(config::TemplateVar::kQuery,
              path_size < path.size() ? path.substr(path_size + 1) : std::string_view());
  }
  // An empty string of the context's, valid (and in place) until the request ends. Inline,
  // with the growth out of line: a few plugins call it on every request.
  std::string& NewString() {
    if (strings_used_ == strings_.size()) [[unlikely]]
      AddString();
    std::string& s = *strings_[strings_used_++];
    s.clear();
    return s;
  }
  // The template's value for this request, valid until the request ends.
  std::string_view Expand(const config::Template& t);

  http::FieldEdits& request_edits() { return request_edits_; }
  http::FieldEdits& response_edits() { return response_edits_; }

  // Answers locally: the request phase stops here and the request goes to no backend.
  LocalAnswer& Answer(int status);
  const LocalAnswer& answer() const { return answer_; }
  bool answered() const { return answer_.status != 0; }

  // The worker's connections to shared stores, and the request's wait for one: a plugin
  // that asked a store returns kPending, and the exchange calls Chain::Resume when
  // wait().reply() is in (the exchange set its callback).
  Stores& stores() { return *stores_; }
  StoreWait& wait() { return wait_; }

  // The body phase. Before the response phase the exchange says whether it can re-frame
  // this response's body: a backend's body it streams to a client that reads chunked (not a
  // HEAD, not an HTTP/1.0 client, not a local answer). Only then may OnResponse ask for an
  // encoder (EncodeBody), which the exchange then feeds the body through; a plugin asking
  // also sets Content-Encoding, and the exchange sees to the framing fields.
  void AllowBodyEncoding(bool allowed) { body_encodable_ = allowed; }
  bool body_encodable() const { return body_encodable_; }
  absl::Status EncodeBody(Coding coding, int level);
  BodyEncoder* encoder() const { return encoder_.get(); }
  // The exchange is done with the encoder: back to the worker's pool.
  void EndBody();

  // The monotonic clock for this request's decisions: the instant its head was complete
  // when the exchange gave it (SetNow), else read once. A wait for a store makes it stale:
  // Chain::Resume forgets it, so the plugins after a wait read the clock again.
  int64_t NowNanos() {
    if (now_ns_ == 0) now_ns_ = MonoNanos();
    return now_ns_;
  }
  // After Begin: `mono_ns` (0: unknown) is microseconds old at most.
  void SetNow(int64_t mono_ns) { now_ns_ = mono_ns; }

  // Counts one `outrigger_plugin_actions_total` (an id from ActionIds).
  void Count(uint32_t action) {
    if (shard_ != nullptr) shard_->OnPluginAction(action);
  }

  // A word the running plugin keeps for this request, from its request phase to its later
  // ones (zero at first). The request's fields cannot be read after the request phase (the
  // head they point into is gone), so what a later phase needs of them is noted here.
  uint64_t& note() {
    if (notes_.size() <= running_) notes_.resize(running_ + 1);
    return notes_[running_];
  }

  // Chain bookkeeping: how many plugins ran the request phase (the response phase runs
  // those, bottom-up).
  size_t ran = 0;

 private:
  friend class Chain;

  void AddString();

  size_t running_ = 0;           // the chain's index of the plugin being called
  int64_t now_ns_ = 0;           // NowNanos' (0: not read yet)
  std::vector<uint64_t> notes_;  // by chain index; keeps its capacity
  http::RequestHead* request_ = nullptr;
  config::TemplateValues vars_;
  metrics::Shard* shard_ = nullptr;
  Stores* stores_ = nullptr;
  StoreWait wait_;
  http::FieldEdits request_edits_;
  http::FieldEdits response_edits_;
  LocalAnswer answer_;
  std::unique_ptr<BodyEncoder> encoder_;
  Coding coding_ = Coding::kGzip;
  bool body_encodable_ = false;
  // Expanded values and rewritten paths: each string lives on the heap, so the views handed
  // out stay valid as more are added (a deque would too, but costs more to index); the strings
  // keep their capacity.
  std::vector<std::unique_ptr<std::string>> strings_;
  size_t strings_used_ = 0;
};

class Plugin {
 public:
  // kPending: the plugin asked a store (ctx.wait()); OnResume decides once it answered.
  enum class Verdict : uint8_t { kContinue, kAnswered, kPending };

  // The phases after the request's that a plugin takes part in (bits of later_phases()):
  // the chain calls OnResponse and OnLog only on the plugins that say so. All by default,
  // so that no override is ever skipped; a plugin with neither says so and spares the chain
  // a call per request and phase.
  static constexpr uint8_t kResponsePhase = 1;
  static constexpr uint8_t kLogPhase = 2;

  virtual ~Plugin() = default;
  virtual uint8_t later_phases() const { return kResponsePhase | kLogPhase; }
  // Whether it reads $host, $path or $query (through a template or vars()). Finding them
  // takes two searches per request, made only for a chain where some plugin reads them;
  // otherwise they are empty. Default: it may.
  virtual bool reads_target_vars() const { return true; }
  // Before the snapshot is published: `previous` is a plugin of the same route in the
  // snapshot before. A plugin with state takes it over when `previous` is of its kind with
  // the same settings, so a reload or a DNS rebuild does not reset it; true when it did.
  virtual bool Adopt(const Plugin& previous) {
    (void)previous;
    return false;
  }
  // Request phase. kAnswered after ctx.Answer(): no later plugin runs, no backend is asked.
  virtual Verdict OnRequest(Context& ctx) const = 0;
  // After OnRequest said kPending: ctx.wait().reply() is in. Any verdict but kPending.
  virtual Verdict OnResume(Context& ctx) const {
    (void)ctx;
    return Verdict::kContinue;
  }
  // Response phase: `response` is the head going to the client (a backend's or a plugin's
  // answer, not an interim one); edits go to ctx.response_edits().
  virtual void OnResponse(Context& ctx, const http::ResponseHead& response) const {
    (void)ctx;
    (void)response;
  }
  // Log phase: the exchange is over (answered, forwarded, failed or abandoned) and its access
  // log line, if any, is written. Nothing of it can change any more.
  virtual void OnLog(Context& ctx, const ExchangeEnd& end) const {
    (void)ctx;
    (void)end;
  }
};

// `outrigger_plugin_actions_total` series a plugin counts on: registered at build time under
// the route's pool (metrics::MetricLayout::plugin_actions).
class ActionIds {
 public:
  ActionIds(metrics::MetricLayout* layout, std::string_view pool) : layout_(layout), pool_(pool) {}
  uint32_t Id(std::string_view plugin, std::string_view action);

 private:
  metrics::MetricLayout* layout_;
  std::string_view pool_;
};

}  // namespace outrigger::plugins
