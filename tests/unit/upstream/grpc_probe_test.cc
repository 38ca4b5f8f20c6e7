// GrpcProbe: the HealthCheckRequest it sends (bytes), how it reads a HealthCheckResponse
// (strict protobuf, every malformed shape fails), the verdict on a finished call, and the
// connection failures it reports (refused, silent backend).
#include "proxy/upstream/grpc_probe.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <string_view>

#include "probe_server.h"

namespace outrigger::upstream {
namespace {

using grpc_health::DecodeResponse;
using grpc_health::EncodeRequest;
using grpc_health::Judge;
using grpc_health::UnframeMessage;
using namespace std::string_literals;

// A gRPC frame around `message`.
std::string Frame(std::string_view message) {
  std::string f = "\0\0\0\0"s;
  f.push_back(static_cast<char>(message.size()));
  return f + std::string(message);
}

TEST(GrpcHealthEncodeTest, TheWholeServerIsAnEmptyMessage) {
  EXPECT_EQ(EncodeRequest(""), "\0\0\0\0\0"s);
}

TEST(GrpcHealthEncodeTest, ANamedServiceIsField1WithItsLength) {
  EXPECT_EQ(EncodeRequest("api.v1.Users"), "\0\0\0\0\x0e\x0a\x0c"s + "api.v1.Users");
}

TEST(GrpcHealthEncodeTest, ALongNameTakesAMultiByteVarintAndA4ByteFrameLength) {
  const std::string name(300, 's');
  const std::string frame = EncodeRequest(name);
  // 300 = 0b10_0101100: varint 0xac 0x02; message 1 + 2 + 300 = 303 = 0x012f.
  ASSERT_EQ(frame.size(), 5u + 303u);
  EXPECT_EQ(frame.substr(0, 8), "\0\0\0\x01\x2f\x0a\xac\x02"s);
  EXPECT_EQ(frame.substr(8), name);
}

TEST(GrpcHealthDecodeTest, ReadsTheServingStatus) {
  EXPECT_EQ(DecodeResponse("\x08\x01"s), 1u);  // SERVING
  EXPECT_EQ(DecodeResponse("\x08\x02"s), 2u);  // NOT_SERVING
  EXPECT_EQ(DecodeResponse("\x08\x03"s), 3u);  // SERVICE_UNKNOWN
  EXPECT_EQ(DecodeResponse(""), 0u);           // absent: UNKNOWN
}

TEST(GrpcHealthDecodeTest, SkipsUnknownFieldsOfEveryWireTypeAndTheLastStatusWins) {
  const std::string message = "\x10\x96\x01"s                 // field 2, varint 150
                              + "\x19" + std::string(8, 'x')  // field 3, fixed64
                              + "\x22\x03" + "abc"            // field 4, 3 bytes
                              + "\x2d" + std::string(4, 'y')  // field 5, fixed32
                              + "\x08\x02" + "\x08\x01";      // status twice: SERVING
  EXPECT_EQ(DecodeResponse(message), 1u);
}

TEST(GrpcHealthDecodeTest, RejectsEveryMalformedShape) {
  EXPECT_EQ(DecodeResponse("\x08"s), std::nullopt) << "status value missing";
  EXPECT_EQ(DecodeResponse("\x08\x81"s), std::nullopt) << "truncated varint";
  EXPECT_EQ(DecodeResponse("\x08" + std::string(10, '\xff') + "\x01"), std::nullopt)
      << "varint over 10 bytes";
  EXPECT_EQ(DecodeResponse("\x08" + std::string(9, '\xff') + "\x02"), std::nullopt)
      << "10-byte varint past 64 bits";
  EXPECT_EQ(DecodeResponse("\x12\x05"
                           "ab"s),
            std::nullopt)
      << "length past the end";
  EXPECT_EQ(DecodeResponse("\x12\xff\xff\xff\xff\x0f"
                           "ab"s),
            std::nullopt)
      << "oversized length";
  EXPECT_EQ(DecodeResponse("\x19"
                           "1234"s),
            std::nullopt)
      << "fixed64 cut short";
  EXPECT_EQ(DecodeResponse("\x0a\x01\x01"s), std::nullopt) << "status not a varint";
  EXPECT_EQ(DecodeResponse("\x00\x01"s), std::nullopt) << "field number 0";
  EXPECT_EQ(DecodeResponse("\x13"s), std::nullopt) << "group";
  EXPECT_EQ(DecodeResponse("\x0e\x01"s), std::nullopt) << "wire type 6";
}

TEST(GrpcHealthDecodeTest, AcceptsA10ByteVarintThatFits) {
  // -1 as an int32 enum value: ten bytes, the last 0x01.
  EXPECT_EQ(DecodeResponse("\x08" + std::string(9, '\xff') + "\x01"), 0xffffffffu);
}

TEST(GrpcHealthFrameTest, TakesExactlyOneUncompressedFrame) {
  EXPECT_EQ(UnframeMessage(Frame("\x08\x01")), "\x08\x01");
  EXPECT_EQ(UnframeMessage(Frame("")), "");
  EXPECT_EQ(UnframeMessage(""), std::nullopt);
  EXPECT_EQ(UnframeMessage("\0\0\0"s), std::nullopt);
  EXPECT_EQ(UnframeMessage("\x01\0\0\0\x02\x08\x01"s), std::nullopt) << "compressed";
  EXPECT_EQ(UnframeMessage("\0\0\0\0\x03\x08\x01"s), std::nullopt) << "cut short";
  EXPECT_EQ(UnframeMessage(Frame("\x08\x01") + "x"), std::nullopt) << "bytes after it";
  EXPECT_EQ(UnframeMessage("\0\xff\xff\xff\xff\x08\x01"s), std::nullopt) << "huge length";
}

TEST(GrpcHealthJudgeTest, PassesOnlyOnStatus0AndServing) {
  ProbeResult r = Judge(200, "0", Frame("\x08\x01"));
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(Judge(200, "0", Frame("\x08\x02")).detail, "NOT_SERVING");
  EXPECT_EQ(Judge(200, "0", Frame("\x08\x03")).detail, "SERVICE_UNKNOWN");
  EXPECT_EQ(Judge(200, "0", Frame("")).detail, "UNKNOWN");
  EXPECT_EQ(Judge(200, "0", Frame("\x08\x07")).detail, "serving status 7");
  for (const ProbeResult& failed :
       {Judge(200, "0", Frame("\x08\x02")), Judge(200, "0", Frame("\x08\x03")),
        Judge(200, "0", Frame(""))}) {
    EXPECT_FALSE(failed.ok);
  }
}

TEST(GrpcHealthJudgeTest, NamesWhatWentWrong) {
  EXPECT_EQ(Judge(200, "12", "").detail, "grpc-status 12 (unimplemented)");
  EXPECT_EQ(Judge(200, "5", "").detail, "grpc-status 5 (not_found)");
  EXPECT_EQ(Judge(404, "", "").detail, "HTTP status 404");
  EXPECT_EQ(Judge(404, "0", Frame("\x08\x01")).detail, "HTTP status 404");
  EXPECT_EQ(Judge(200, "", Frame("\x08\x01")).detail, "malformed response (no valid grpc-status)");
  EXPECT_EQ(Judge(200, "0x", Frame("\x08\x01")).detail,
            "malformed response (no valid grpc-status)");
  EXPECT_EQ(Judge(200, "0", "\0\0\0"s).detail, "malformed response");
  EXPECT_EQ(Judge(200, "0", Frame("\x08\x81")).detail, "malformed response");
  EXPECT_FALSE(Judge(200, "12", Frame("\x08\x01")).ok);
}

class GrpcProbeTest : public ::testing::Test {
 protected:
  static config::ProbeConfig Config() {
    config::ProbeConfig c;
    c.type = config::ProbeType::kGrpc;
    c.timeout = config::Duration(200);
    return c;
  }

  std::optional<ProbeResult> RunOnce(GrpcProbe& probe) {
    std::optional<ProbeResult> result;
    probe.Run([&](const ProbeResult& r) { result = r; });
    RunUntil(
        base_.get(), [&] { return result.has_value(); }, 2000);
    return result;
  }

  net::EventBasePtr base_{event_base_new()};
};

TEST_F(GrpcProbeTest, FailsOnARefusedConnectionAndCanRunAgain) {
  net::SocketAddress closed;
  {
    ProbeServer gone(base_.get());  // a port nothing listens on once it is gone
    closed = gone.address();
  }
  GrpcProbe probe(base_.get(), closed, Config());
  for (int i = 0; i < 2; ++i) {
    std::optional<ProbeResult> r = RunOnce(probe);
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->detail, "connection refused");
    EXPECT_FALSE(probe.running());
  }
}

TEST_F(GrpcProbeTest, FailsWithATimeoutWhenTheBackendNeverAnswers) {
  // A listening socket never accepted from: the connect completes (backlog), no byte comes.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof(sin);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  GrpcProbe probe(base_.get(), net::SocketAddress(reinterpret_cast<sockaddr*>(&sin), len),
                  Config());
  std::optional<ProbeResult> r = RunOnce(probe);
  ::close(fd);
  ASSERT_TRUE(r) << "the timeout did not end the probe";
  EXPECT_FALSE(r->ok);
  EXPECT_NE(r->detail.find("timeout"), std::string::npos) << r->detail;
}

TEST_F(GrpcProbeTest, DestroyingARunningProbeCallsNothing) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof(sin);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  bool called = false;
  {
    GrpcProbe probe(base_.get(), net::SocketAddress(reinterpret_cast<sockaddr*>(&sin), len),
                    Config());
    probe.Run([&](const ProbeResult&) { called = true; });
    EXPECT_TRUE(probe.running());
  }
  RunUntil(
      base_.get(), [&] { return called; }, 400);
  ::close(fd);
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace outrigger::upstream
