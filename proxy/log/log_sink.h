// LogSink: where one listener's access log lines go (stdout, stderr or a file), written by a
// thread of its own so that a slow disk or a pipe nobody reads never blocks a worker.
//
// Workers hand over whole batches of lines (LogBuffer) through a queue bounded in bytes;
// when it is full the batch is dropped and its lines counted (dropped()), and the writer
// logs the drops at most once per kDropReportEvery. The writer never blocks for ever
// either: it waits for a pipe to take bytes in short polls, so destruction ends promptly.
//
// Thread-safety: Submit, Reopen and dropped from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace outrigger::log {

class LogSink {
 public:
  static constexpr size_t kDefaultQueueBytes = 1 << 20;
  static constexpr std::chrono::seconds kDropReportEvery{10};

  // `path`: "stdout", "stderr" or a file, opened (created, appended to) now, so that an
  // unwritable path fails the config load. `name` labels its warnings (the listener).
  static absl::StatusOr<std::unique_ptr<LogSink>> Open(std::string path, std::string name,
                                                       size_t queue_bytes = kDefaultQueueBytes);
  ~LogSink();  // writes what is queued (for a bounded time), then stops the writer
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  // Takes `*batch` (holding `lines` lines) for writing, or drops and counts it when the queue
  // is full; either way `*batch` comes back empty, with the capacity of an earlier batch.
  void Submit(std::string* batch, uint64_t lines);
  // Reopens a file path before the next write (after logrotate renamed it); no-op for
  // stdout and stderr.
  void Reopen();
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  const std::string& path() const { return path_; }

 private:
  LogSink(std::string path, std::string name, int fd, size_t queue_bytes);
  void Run();
  void WriteAll(const std::string& batch);
  void ReopenNow();
  // Logs the drops since the last report, at most once per kDropReportEvery.
  void MaybeReportDrops();

  const std::string path_;
  const std::string name_;
  const size_t queue_bytes_;
  const bool is_file_;      // not stdout or stderr: Reopen() reopens it; read by any thread
  int fd_;                  // the writer's; owned unless 1 or 2
  bool abandoned_ = false;  // the writer's: stopping, and the sink stopped taking bytes
  uint64_t reported_ = 0;   // the writer's: drops already logged, and when last
  std::chrono::steady_clock::time_point last_report_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;    // guarded by mu_
  std::vector<std::string> spares_;  // guarded by mu_: written batches, for their capacity
  size_t queued_bytes_ = 0;          // guarded by mu_
  bool stop_ = false;                // guarded by mu_
  std::atomic<bool> reopen_{false};
  std::atomic<uint64_t> dropped_{0};
  std::thread writer_;
};

// One worker's pending lines for one sink: appended to on the worker's loop, handed to the
// sink when large or at the worker's periodic flush, and at destruction.
class LogBuffer {
 public:
  static constexpr size_t kFlushBytes = 32 * 1024;
  // What a batch reserves at once: kFlushBytes and a line (growing it from nothing churned
  // the worker's heap).
  static constexpr size_t kBatchRoom = kFlushBytes + 8 * 1024;
  static constexpr int64_t kFlushAfterNs = 100'000'000;  // a line waits at most this long
                                                         // while lines keep coming

  explicit LogBuffer(std::shared_ptr<LogSink> sink) : sink_(std::move(sink)) {
    if (sink_ != nullptr) buf_.reserve(kBatchRoom);
  }
  ~LogBuffer() { Flush(); }
  LogBuffer(LogBuffer&&) = default;
  LogBuffer& operator=(LogBuffer&&) = delete;

  bool enabled() const { return sink_ != nullptr; }
  // Room for a line of at most `bound` bytes after the pending ones, for the caller to write
  // the line in place (rather than compose it elsewhere and copy it in); valid until the next
  // call. Then Committed(end of the line, monotonic time now).
  char* Room(size_t bound) {
    // Only the bytes past the string's size are zeroed: about one line's worth per line.
    if (buf_.size() - used_ < bound) buf_.resize(used_ + bound);
    return buf_.data() + used_;
  }
  void Committed(const char* line_end, int64_t now_ns) {
    used_ = static_cast<size_t>(line_end - buf_.data());
    if (lines_++ == 0) first_ns_ = now_ns;
    if (used_ >= kFlushBytes || now_ns - first_ns_ >= kFlushAfterNs) Flush();
  }
  void Flush() {
    if (lines_ == 0 || sink_ == nullptr) return;
    buf_.resize(used_);
    sink_->Submit(&buf_, lines_);
    used_ = 0;
    lines_ = 0;
  }

 private:
  std::shared_ptr<LogSink> sink_;
  std::string buf_;  // the pending lines, buf_[0, used_), then room the next line may take
  size_t used_ = 0;
  uint64_t lines_ = 0;
  int64_t first_ns_ = 0;  // when the oldest pending line was added
};

}  // namespace outrigger::log
