#include "proxy/log/log_sink.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "proxy/base/log.h"

namespace outrigger::log {
namespace {

constexpr int kPollMs = 100;
// Bytes per write(): at most PIPE_BUF, so that a pipe that polled writable takes it without
// blocking, and lines of two sinks sharing stdout never interleave within a write.
constexpr size_t kChunk = PIPE_BUF;
// At destruction, how long the writer keeps trying to hand queued lines to a stuck pipe.
constexpr int kStopPatienceMs = 500;

int OpenFile(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

}  // namespace

absl::StatusOr<std::unique_ptr<LogSink>> LogSink::Open(std::string path, std::string name,
                                                       size_t queue_bytes) {
  int fd;
  if (path == "stdout") {
    fd = STDOUT_FILENO;
  } else if (path == "stderr") {
    fd = STDERR_FILENO;
  } else {
    fd = OpenFile(path);
    if (fd < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot open access log ", path, ": ", std::strerror(errno)));
    }
  }
  return std::unique_ptr<LogSink>(new LogSink(std::move(path), std::move(name), fd, queue_bytes));
}

LogSink::LogSink(std::string path, std::string name, int fd, size_t queue_bytes)
    : path_(std::move(path)),
      name_(std::move(name)),
      queue_bytes_(queue_bytes),
      is_file_(fd > STDERR_FILENO),
      fd_(fd) {
  writer_ = std::thread([this] { Run(); });
}

LogSink::~LogSink() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  writer_.join();
  if (fd_ > STDERR_FILENO) ::close(fd_);
}

void LogSink::Submit(std::string* batch, uint64_t lines) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queued_bytes_ + batch->size() <= queue_bytes_) {
      queued_bytes_ += batch->size();
      queue_.push_back(std::move(*batch));
      if (!spares_.empty()) {
        *batch = std::move(spares_.back());
        spares_.pop_back();
      } else {
        *batch = std::string();
        batch->reserve(LogBuffer::kBatchRoom);
      }
      batch->clear();
    } else {
      batch->clear();
      dropped_.fetch_add(lines, std::memory_order_relaxed);
      return;  // the writer is behind: no need to wake it
    }
  }
  wake_.notify_one();
}

void LogSink::Reopen() {
  if (!is_file_) return;  // fd_ is the writer thread's
  reopen_.store(true, std::memory_order_relaxed);
  wake_.notify_one();
}

void LogSink::ReopenNow() {
  int fd = OpenFile(path_);
  if (fd < 0) {
    spdlog::error("access log {} ({}): cannot reopen: {}; still writing to the old file", path_,
                  name_, std::strerror(errno));
    return;
  }
  ::close(fd_);
  fd_ = fd;
}

void LogSink::WriteAll(const std::string& batch) {
  if (abandoned_) return;
  size_t done = 0;
  int waited_ms = 0;
  while (done < batch.size()) {
    pollfd p{fd_, POLLOUT, 0};
    int ready = ::poll(&p, 1, kPollMs);
    if (ready == 0) {
      MaybeReportDrops();  // the sink is stuck: that is when drops happen
      std::lock_guard<std::mutex> lock(mu_);
      waited_ms += kPollMs;
      if (stop_ && waited_ms >= kStopPatienceMs) {  // nobody reads: give up at exit
        abandoned_ = true;
        return;
      }
      continue;
    }
    if (ready < 0 && errno == EINTR) continue;
    const size_t n = std::min(kChunk, batch.size() - done);
    ssize_t w = ::write(fd_, batch.data() + done, n);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return;  // EPIPE, EBADF, ENOSPC…: these lines are lost; the next batch tries again
    }
    done += static_cast<size_t>(w);
    waited_ms = 0;
  }
}

void LogSink::MaybeReportDrops() {
  const uint64_t dropped = dropped_.load(std::memory_order_relaxed);
  const auto now = std::chrono::steady_clock::now();
  if (dropped != reported_ && now - last_report_ >= kDropReportEvery) {
    spdlog::warn("access log {} ({}): {} lines dropped, the sink is not keeping up", path_, name_,
                 dropped - reported_);
    reported_ = dropped;
    last_report_ = now;
  }
}

void LogSink::Run() {
  std::deque<std::string> batches;
  last_report_ = std::chrono::steady_clock::now() - kDropReportEvery;  // the first at once
  for (;;) {
    bool stopping;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::seconds(1), [&] {
        return stop_ || !queue_.empty() || reopen_.load(std::memory_order_relaxed);
      });
      // Give back what was written last round for its capacity.
      for (auto& b : batches) {
        if (spares_.size() < 16) spares_.push_back(std::move(b));
      }
      batches.clear();
      batches.swap(queue_);
      queued_bytes_ = 0;
      stopping = stop_;
    }
    if (reopen_.exchange(false, std::memory_order_relaxed)) ReopenNow();
    for (auto& b : batches) {
      WriteAll(b);
      b.clear();
    }
    MaybeReportDrops();
    if (stopping) return;
  }
}

}  // namespace outrigger::log
