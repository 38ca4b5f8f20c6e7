#include "plugins/store/redis_client.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "proxy/base/clock.h"
#include "proxy/net/cidr.h"
#include "proxy/net/dns_resolver.h"

namespace outrigger::plugins {
namespace {

// KEYS[1]: the key; ARGV: interval and tolerance in microseconds. Answers {allowed,
// retry_after, remaining, reset} (microseconds). The TAT is kept only as long as it matters.
constexpr std::string_view kGcraScript = R"lua(
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if tat - now > tolerance then
  return {0, tat - now - tolerance, 0, tat - now}
end
local nxt = tat + interval
redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', math.ceil((nxt - now) / 1000))
local remaining = 0
if tolerance - (nxt - now) >= 0 then remaining = math.floor((tolerance - (nxt - now)) / interval) + 1 end
return {1, 0, remaining, nxt - now}
)lua";

// The longest a connection may leave its oldest question unanswered before it is dropped and
// made again: a Redis that stopped (SIGSTOP, a full disk) must not keep every slot taken.
constexpr int64_t kStallNs = 5'000'000'000;

bool ParseReply(const redisReply* r, StoreReply* out) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 4) return false;
  for (size_t i = 0; i < 4; ++i) {
    if (r->element[i]->type != REDIS_REPLY_INTEGER || r->element[i]->integer < 0) return false;
  }
  out->ok = true;
  out->allowed = r->element[0]->integer == 1;
  out->retry_after_us = r->element[1]->integer;
  out->remaining = static_cast<uint32_t>(std::min<long long>(r->element[2]->integer, UINT32_MAX));
  out->reset_us = r->element[3]->integer;
  return true;
}

void AppendDecimal(int64_t v, char (&buf)[24], size_t* len) {
  *len = static_cast<size_t>(std::to_chars(buf, buf + sizeof(buf), v).ptr - buf);
}

}  // namespace

RedisClient::RedisClient(event_base* base, std::string host, uint16_t port,
                         std::chrono::milliseconds timeout)
    : base_(base),
      host_(std::move(host)),
      port_(port),
      timeout_ns_(std::chrono::nanoseconds(timeout).count()),
      label_(fmt::format("redis://{}:{}", host_, port_)),
      timeout_timer_(evtimer_new(base, &RedisClient::OnTimer, this)),
      retry_timer_(evtimer_new(base, &RedisClient::OnRetry, this)),
      ring_(kMaxInFlight) {
  if (!net::ParseIp(host_)) resolver_ = std::make_unique<net::DnsResolver>(base);
  Connect();
}

RedisClient::~RedisClient() {
  closing_ = true;
  for (uint64_t s = first_; s < next_; ++s) {
    if (StoreWait* w = ring_[s % kMaxInFlight].wait) w->Orphan();
  }
  if (ac_ != nullptr) redisAsyncFree(ac_);  // its callbacks see closing_
}

void RedisClient::Connect() {
  if (!resolver_) {
    ConnectTo(host_);
    return;
  }
  if (!resolver_->Configure(std::nullopt).ok()) {
    ScheduleReconnect("cannot read the resolver configuration");
    return;
  }
  resolver_->Resolve(host_, AF_INET, port_,
                     [this](absl::StatusOr<std::vector<net::SocketAddress>> found) {
                       if (!found.ok() || found->empty()) {
                         ScheduleReconnect(found.ok() ? std::string("the name has no address")
                                                      : std::string(found.status().message()));
                         return;
                       }
                       ConnectTo(found->front().IpString());
                     });
}

void RedisClient::ConnectTo(const std::string& ip) {
  redisAsyncContext* ac = redisAsyncConnect(ip.c_str(), port_);
  if (ac == nullptr || ac->err != 0) {
    const std::string why = ac != nullptr ? ac->errstr : "out of memory";
    if (ac != nullptr) redisAsyncFree(ac);
    ScheduleReconnect(why);
    return;
  }
  ac->data = this;
  redisLibeventAttach(ac, base_);
  redisAsyncSetConnectCallback(ac, &RedisClient::OnConnected);
  redisAsyncSetDisconnectCallback(ac, &RedisClient::OnDisconnected);
  ac_ = ac;  // questions may go out now: hiredis sends them once connected
}

void RedisClient::ScheduleReconnect(std::string_view why) {
  if (closing_) return;
  healthy_ = false;
  if (!down_logged_) {
    spdlog::warn(
        "rate_limit store {}: {}; each rate_limit on it does as its on_store_error says "
        "until it is back",
        label_, why);
    down_logged_ = true;
  }
  backoff_ = std::min(std::max(backoff_ * 2, std::chrono::milliseconds(100)),
                      std::chrono::milliseconds(5000));
  const timeval tv{static_cast<time_t>(backoff_.count() / 1000),
                   static_cast<suseconds_t>(backoff_.count() % 1000 * 1000)};
  evtimer_add(retry_timer_.get(), &tv);
}

bool RedisClient::Gcra(std::string_view key, int64_t interval_us, int64_t tolerance_us,
                       StoreWait* wait) {
  if (ac_ == nullptr || !healthy_ || next_ - first_ >= kMaxInFlight) return false;
  char interval[24], tolerance[24];
  size_t interval_len = 0, tolerance_len = 0;
  AppendDecimal(interval_us, interval, &interval_len);
  AppendDecimal(tolerance_us, tolerance, &tolerance_len);
  const char* argv[] = {"EVAL", kGcraScript.data(), "1", key.data(), interval, tolerance};
  const size_t lens[] = {4, kGcraScript.size(), 1, key.size(), interval_len, tolerance_len};
  if (redisAsyncCommandArgv(ac_, &RedisClient::OnReplyThunk, this, 6, argv, lens) != REDIS_OK) {
    return false;  // the connection is going away; its disconnect callback follows
  }
  const uint64_t seq = next_++;
  const int64_t deadline = MonoNanos() + timeout_ns_;
  ring_[seq % kMaxInFlight] = Op{wait, deadline, false};
  wait->Start(this, seq);
  // The timer may be set later than this deadline: the stall watch's second.
  if (!evtimer_pending(timeout_timer_.get(), nullptr) || deadline < timer_at_ns_) ArmTimeout();
  return true;
}

void RedisClient::Forget(uint64_t seq) {
  if (seq >= first_ && seq < next_) ring_[seq % kMaxInFlight].wait = nullptr;
}

void RedisClient::OnReplyThunk(redisAsyncContext*, void* reply, void* self) {
  static_cast<RedisClient*>(self)->OnReply(reply);
}

void RedisClient::OnReply(void* reply) {
  if (closing_ || first_ == next_) return;
  const Op op = ring_[first_ % kMaxInFlight];
  ++first_;
  if (op.probe) {
    // A connection made after a failure serves nothing until Redis answers on it: a
    // stopped Redis's kernel still completes handshakes.
    if (reply == nullptr) return;
    healthy_ = true;
    backoff_ = std::chrono::milliseconds(0);
    if (down_logged_) spdlog::info("rate_limit store {}: connected again", label_);
    down_logged_ = false;
    return;
  }
  if (op.wait == nullptr) return;  // answered by its timeout, or its request went
  StoreReply r;
  if (!ParseReply(static_cast<const redisReply*>(reply), &r) && reply != nullptr &&
      !bad_reply_logged_) {
    bad_reply_logged_ = true;  // once per connection: a Redis asking for AUTH says it each time
    const auto* rr = static_cast<const redisReply*>(reply);
    spdlog::warn("rate_limit store {}: unexpected reply{}{}", label_,
                 rr->type == REDIS_REPLY_ERROR ? ": " : "",
                 rr->type == REDIS_REPLY_ERROR ? std::string_view(rr->str, rr->len) : "");
  }
  op.wait->Finish(r);
}

void RedisClient::ArmTimeout() {
  // The oldest question still waiting sets the timer: the rest were asked after it.
  for (uint64_t s = first_; s < next_; ++s) {
    const Op& op = ring_[s % kMaxInFlight];
    if (op.wait == nullptr) continue;
    const int64_t in_ns = std::max<int64_t>(op.deadline_ns - MonoNanos(), 0);
    const timeval tv{static_cast<time_t>(in_ns / 1'000'000'000),
                     static_cast<suseconds_t>(in_ns % 1'000'000'000 / 1000 + 1)};
    evtimer_add(timeout_timer_.get(), &tv);
    timer_at_ns_ = op.deadline_ns;
    return;
  }
  WatchForStall();
}

void RedisClient::WatchForStall() {
  // Only answered questions (or a probe) are out: look again in a second for a stall.
  if (first_ == next_ || evtimer_pending(timeout_timer_.get(), nullptr)) return;
  const timeval tv{1, 0};
  evtimer_add(timeout_timer_.get(), &tv);
  timer_at_ns_ = MonoNanos() + 1'000'000'000;
}

void RedisClient::OnTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<RedisClient*>(arg);
  const int64_t now = MonoNanos();
  for (uint64_t s = self->first_; s < self->next_; ++s) {
    Op& op = self->ring_[s % kMaxInFlight];
    if (op.deadline_ns > now) break;
    if (StoreWait* w = std::exchange(op.wait, nullptr)) w->Finish(StoreReply{});
  }
  if (self->ac_ != nullptr && self->first_ < self->next_ &&
      now - self->ring_[self->first_ % kMaxInFlight].deadline_ns + self->timeout_ns_ > kStallNs) {
    redisAsyncContext* ac = std::exchange(self->ac_, nullptr);
    self->connected_ = false;
    redisAsyncFree(ac);  // its questions are answered with nothing: OnReply pops them
    self->ScheduleReconnect("no reply for 5s");
    return;
  }
  self->ArmTimeout();
}

void RedisClient::OnRetry(evutil_socket_t, short, void* arg) {
  static_cast<RedisClient*>(arg)->Connect();
}

void RedisClient::OnConnected(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (self->closing_ || self->ac_ != ac) return;
  if (status != REDIS_OK) {  // hiredis frees the context after this
    self->ac_ = nullptr;
    self->ScheduleReconnect(ac->errstr);
    return;
  }
  self->connected_ = true;
  self->bad_reply_logged_ = false;
  if (self->healthy_) return;  // the first connection: questions already went out on it
  // After a failure: a PING first, and questions only once it is answered (OnReply).
  if (redisAsyncCommand(self->ac_, &RedisClient::OnReplyThunk, self, "PING") != REDIS_OK) return;
  self->ring_[self->next_++ % kMaxInFlight] = Op{nullptr, MonoNanos() + self->timeout_ns_, true};
  self->WatchForStall();
}

void RedisClient::OnDisconnected(const redisAsyncContext* ac, int) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (self->closing_ || self->ac_ != ac) return;  // dropped on purpose (OnTimer)
  self->ac_ = nullptr;
  self->connected_ = false;
  self->ScheduleReconnect(ac->errstr[0] != '\0' ? ac->errstr : "connection closed");
}

}  // namespace outrigger::plugins
