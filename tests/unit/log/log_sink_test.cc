// LogSink: lines reach the file, a reader that stops reading costs drops (never a blocked
// Submit), and Reopen moves writing to a new file at the same path.
#include "proxy/log/log_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

namespace outrigger::log {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

template <typename F>
bool WaitFor(F done) {
  for (int i = 0; i < 500; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string TempPath(const char* name) {
  return ::testing::TempDir() + "/" + name + std::to_string(::getpid());
}

TEST(LogSinkTest, WritesBatchesAndReopens) {
  const std::string path = TempPath("sink.log");
  std::remove(path.c_str());
  auto sink = LogSink::Open(path, "web");
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::string batch = "one\ntwo\n";
  (*sink)->Submit(&batch, 2);
  EXPECT_TRUE(batch.empty());
  ASSERT_TRUE(WaitFor([&] { return ReadFile(path) == "one\ntwo\n"; }));

  const std::string rotated = path + ".1";
  ASSERT_EQ(std::rename(path.c_str(), rotated.c_str()), 0);
  (*sink)->Reopen();
  batch = "three\n";
  (*sink)->Submit(&batch, 1);
  ASSERT_TRUE(WaitFor([&] { return ReadFile(path) == "three\n"; }));
  EXPECT_EQ(ReadFile(rotated), "one\ntwo\n");
  EXPECT_EQ((*sink)->dropped(), 0u);
  sink->reset();
  std::remove(path.c_str());
  std::remove(rotated.c_str());
}

// Lines written in place into LogBuffer::Room reach the sink as written: the room a line
// left unused is never part of a batch, whether the buffer flushed itself (past kFlushBytes)
// or was flushed.
TEST(LogSinkTest, BufferSubmitsOnlyTheLinesWrittenInItsRoom) {
  const std::string path = TempPath("buffer.log");
  std::remove(path.c_str());
  auto sink = LogSink::Open(path, "web");
  ASSERT_TRUE(sink.ok()) << sink.status();
  LogBuffer buffer{std::shared_ptr<LogSink>(std::move(*sink))};
  std::string expected;
  auto put = [&](const std::string& line, size_t bound) {
    char* room = buffer.Room(bound);
    std::memcpy(room, line.data(), line.size());
    buffer.Committed(room + line.size(), 0);
    expected += line;
  };
  put("a\n", 100);
  put("bb\n", 3);
  buffer.Flush();
  ASSERT_TRUE(WaitFor([&] { return ReadFile(path) == "a\nbb\n"; }));
  // 40 lines of 1000 bytes, each in room for 3000: the buffer submits once past 32 KiB.
  for (int i = 0; i < 40; ++i) put(std::string(999, static_cast<char>('c' + i % 20)) + "\n", 3000);
  ASSERT_TRUE(WaitFor([&] { return ReadFile(path).size() >= LogBuffer::kFlushBytes; }));
  EXPECT_LT(ReadFile(path).size(), expected.size());
  buffer.Flush();
  ASSERT_TRUE(WaitFor([&] { return ReadFile(path) == expected; }));
  std::remove(path.c_str());
}

TEST(LogSinkTest, UnwritablePathFails) {
  auto sink = LogSink::Open("/nonexistent-dir/x.log", "web");
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("/nonexistent-dir/x.log"), std::string::npos);
}

TEST(LogSinkTest, StuckPipeDropsInsteadOfBlocking) {
  // A pipe nobody reads, standing in for stdout: Submit must return at once however many
  // batches come, and count what did not fit.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string path = "/dev/fd/" + std::to_string(fds[1]);
  auto sink = LogSink::Open(path, "web", /*queue_bytes=*/64 * 1024);
  ASSERT_TRUE(sink.ok()) << sink.status();
  const std::string line(99, 'x');
  uint64_t submitted = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5000; ++i) {
    std::string batch = line + "\n";
    (*sink)->Submit(&batch, 1);
    ++submitted;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  // 500 KB offered; the pipe (64 KiB) and the queue (64 KiB) hold far less.
  EXPECT_GT((*sink)->dropped(), submitted / 2);
  sink->reset();  // gives up on the stuck pipe within its patience
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace outrigger::log
