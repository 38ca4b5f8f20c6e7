#include "proxy/upstream/circuit_breaker.h"

#include <algorithm>
#include <limits>

namespace outrigger::upstream {
namespace {

// Layout of the state word, low bits first:
//   [0, 2)   state
//   [2, 6)   doublings
//   [6, 12)  trials outstanding
//   [12, 22) failures in a row
//   [22, 64) deadline in ms of the injected clock: 2^42 ms is 139 years of uptime
constexpr int kStateShift = 0;
constexpr int kDoublingsShift = 2;
constexpr int kTrialsShift = 6;
constexpr int kFailuresShift = 12;
constexpr int kDeadlineShift = 22;

constexpr uint64_t Mask(int bits) { return (uint64_t{1} << bits) - 1; }
constexpr uint64_t kStateMask = Mask(kDoublingsShift - kStateShift);
constexpr uint64_t kDoublingsMask = Mask(kTrialsShift - kDoublingsShift);
constexpr uint64_t kTrialsMask = Mask(kFailuresShift - kTrialsShift);
constexpr uint64_t kFailuresMask = Mask(kDeadlineShift - kFailuresShift);
constexpr uint64_t kDeadlineMask = Mask(64 - kDeadlineShift);

static_assert(CircuitBreaker::kMaxBackoffDoublings <= kDoublingsMask);

constexpr int64_t kNanosPerMilli = 1'000'000;

int64_t DeadlineNs(int64_t deadline_ms) { return deadline_ms * kNanosPerMilli; }

}  // namespace

CircuitBreaker::CircuitBreaker(const Options& options) : word_(Pack(Fields{})) {
  Reconfigure(options);
}

void CircuitBreaker::Reconfigure(const Options& options) {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  consecutive_failures_.store(
      std::clamp<uint32_t>(options.consecutive_failures, 1, static_cast<uint32_t>(kFailuresMask)),
      kRelaxed);
  half_open_trials_.store(
      std::clamp<uint32_t>(options.half_open_trials, 1, static_cast<uint32_t>(kTrialsMask)),
      kRelaxed);
  const int64_t open_for = std::max<int64_t>(options.open_for.count(), 0);
  open_for_ns_.store(open_for, kRelaxed);
  max_open_for_ns_.store(std::max<int64_t>(options.max_open_for.count(), open_for), kRelaxed);
  trial_timeout_ns_.store(std::max<int64_t>(options.trial_timeout.count(), 0), kRelaxed);
}

uint64_t CircuitBreaker::Pack(const Fields& f) {
  return (static_cast<uint64_t>(f.state) & kStateMask) << kStateShift |
         (uint64_t{f.doublings} & kDoublingsMask) << kDoublingsShift |
         (uint64_t{f.trials} & kTrialsMask) << kTrialsShift |
         (uint64_t{f.failures} & kFailuresMask) << kFailuresShift |
         (static_cast<uint64_t>(f.deadline_ms) & kDeadlineMask) << kDeadlineShift;
}

CircuitBreaker::Fields CircuitBreaker::Unpack(uint64_t word) {
  Fields f;
  f.state = static_cast<State>((word >> kStateShift) & kStateMask);
  f.doublings = static_cast<uint32_t>((word >> kDoublingsShift) & kDoublingsMask);
  f.trials = static_cast<uint32_t>((word >> kTrialsShift) & kTrialsMask);
  f.failures = static_cast<uint32_t>((word >> kFailuresShift) & kFailuresMask);
  f.deadline_ms = static_cast<int64_t>((word >> kDeadlineShift) & kDeadlineMask);
  return f;
}

int64_t CircuitBreaker::OpenTimeNs(uint32_t doublings) const {
  int64_t t = open_for_ns_.load(std::memory_order_relaxed);
  const int64_t max = max_open_for_ns_.load(std::memory_order_relaxed);
  for (uint32_t i = 0; i < doublings && t < max; ++i) t *= 2;
  return std::min(t, max);
}

int64_t CircuitBreaker::DeadlineMs(int64_t now_ns, int64_t duration_ns) {
  constexpr int64_t kMaxMs = static_cast<int64_t>(kDeadlineMask);
  now_ns = std::max<int64_t>(now_ns, 0);
  if (duration_ns > std::numeric_limits<int64_t>::max() - now_ns) return kMaxMs;
  const int64_t end_ns = now_ns + duration_ns;
  return std::min(end_ns / kNanosPerMilli + (end_ns % kNanosPerMilli != 0), kMaxMs);
}

bool CircuitBreaker::AllowRequest(int64_t now_ns) {
  uint64_t word = word_.load(std::memory_order_relaxed);
  for (;;) {
    Fields f = Unpack(word);
    switch (f.state) {
      case State::kClosed:
        return true;
      case State::kOpen:
        if (now_ns < DeadlineNs(f.deadline_ms)) return false;
        f.state = State::kHalfOpen;
        f.trials = 1;
        f.deadline_ms = DeadlineMs(now_ns, trial_timeout_ns_.load(std::memory_order_relaxed));
        break;
      case State::kHalfOpen:
        if (f.trials < half_open_trials_.load(std::memory_order_relaxed)) {
          ++f.trials;
        } else if (now_ns >= DeadlineNs(f.deadline_ms)) {
          f.trials = 1;
          f.deadline_ms = DeadlineMs(now_ns, trial_timeout_ns_.load(std::memory_order_relaxed));
        } else {
          return false;
        }
        break;
    }
    if (word_.compare_exchange_weak(word, Pack(f), std::memory_order_seq_cst,
                                    std::memory_order_relaxed))
      return true;
  }
}

CircuitChange CircuitBreaker::OnSuccess(int64_t /*now_ns*/) {
  uint64_t word = word_.load(std::memory_order_relaxed);
  for (;;) {
    Fields f = Unpack(word);
    CircuitChange change = CircuitChange::kUnchanged;
    switch (f.state) {
      case State::kClosed:
        if (f.failures == 0) return CircuitChange::kUnchanged;
        f.failures = 0;
        break;
      case State::kOpen:
        return CircuitChange::kUnchanged;
      case State::kHalfOpen:
        f = Fields{};
        change = CircuitChange::kClosed;
        break;
    }
    if (word_.compare_exchange_weak(word, Pack(f), std::memory_order_seq_cst,
                                    std::memory_order_relaxed))
      return change;
  }
}

CircuitChange CircuitBreaker::OnFailure(int64_t now_ns) {
  uint64_t word = word_.load(std::memory_order_relaxed);
  for (;;) {
    Fields f = Unpack(word);
    CircuitChange change = CircuitChange::kUnchanged;
    switch (f.state) {
      case State::kClosed:
        if (f.failures + 1 < consecutive_failures_.load(std::memory_order_relaxed)) {
          ++f.failures;
          break;
        }
        f = Fields{.state = State::kOpen, .deadline_ms = DeadlineMs(now_ns, OpenTimeNs(0))};
        change = CircuitChange::kOpened;
        break;
      case State::kOpen:
        return CircuitChange::kUnchanged;
      case State::kHalfOpen: {
        const uint32_t doublings = std::min(f.doublings + 1, kMaxBackoffDoublings);
        f = Fields{.state = State::kOpen,
                   .doublings = doublings,
                   .deadline_ms = DeadlineMs(now_ns, OpenTimeNs(doublings))};
        change = CircuitChange::kOpened;
        break;
      }
    }
    if (word_.compare_exchange_weak(word, Pack(f), std::memory_order_seq_cst,
                                    std::memory_order_relaxed))
      return change;
  }
}

void CircuitBreaker::OnAbandoned() {
  uint64_t word = word_.load(std::memory_order_relaxed);
  for (;;) {
    Fields f = Unpack(word);
    if (f.state != State::kHalfOpen || f.trials == 0) return;
    --f.trials;
    if (word_.compare_exchange_weak(word, Pack(f), std::memory_order_seq_cst,
                                    std::memory_order_relaxed))
      return;
  }
}

CircuitBreaker::State CircuitBreaker::state(int64_t now_ns) const {
  const Fields f = Unpack(word_.load(std::memory_order_relaxed));
  if (f.state == State::kOpen && now_ns >= DeadlineNs(f.deadline_ms)) return State::kHalfOpen;
  return f.state;
}

bool CircuitBreaker::Excludes(uint64_t word, int64_t now_ns) {
  const Fields f = Unpack(word);
  return f.state == State::kOpen && now_ns < DeadlineNs(f.deadline_ms);
}

FlagSync SyncCircuitFlag(Backend& backend, int64_t now_ns, void (*between)(void*), void* arg) {
  const CircuitBreaker& breaker = *backend.breaker();
  std::optional<bool> before;
  for (;;) {
    const uint64_t word = breaker.word();
    const bool exclude = CircuitBreaker::Excludes(word, now_ns);
    if (between != nullptr) between(arg);
    // Written only when it differs: the tick syncs every backend, and a needless write would
    // take the cache line away from workers reading the bits.
    bool was = backend.HasUnavailable(Backend::kCircuitOpen);
    if (was != exclude) was = backend.ExchangeUnavailable(Backend::kCircuitOpen, exclude);
    if (!before) before = was;
    if (breaker.word() != word) continue;
    if (*before == exclude) return FlagSync::kUnchanged;
    return exclude ? FlagSync::kSet : FlagSync::kCleared;
  }
}

std::optional<int64_t> CircuitBreaker::trial_at_ns() const {
  const Fields f = Unpack(word_.load(std::memory_order_relaxed));
  if (f.state != State::kOpen) return std::nullopt;
  return DeadlineNs(f.deadline_ms);
}

}  // namespace outrigger::upstream
