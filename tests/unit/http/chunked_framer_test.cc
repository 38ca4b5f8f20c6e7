#include "proxy/http/chunked_framer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace outrigger::http {
namespace {

using namespace std::literals;

struct Outcome {
  bool done = false;
  bool error = false;
  size_t forwarded = 0;  // bytes the framer accepted as part of the body
  std::string reason;
};

// Drives a framer the way the request path does (see chunked_framer.h), receiving `body` in
// pieces of the given sizes (the last piece takes whatever is left).
Outcome Frame(std::string_view body, const std::vector<size_t>& pieces) {
  ChunkedFramer framer;
  Outcome outcome;
  std::string buffer;  // received, not yet forwarded
  size_t received = 0;
  for (size_t i = 0; received < body.size() || i == 0; ++i) {
    const size_t n =
        i < pieces.size() ? std::min(pieces[i], body.size() - received) : body.size() - received;
    buffer.append(body.substr(received, n));
    received += n;
    while (!buffer.empty() && !framer.done()) {
      if (const uint64_t remaining = framer.data_remaining()) {
        const size_t n_data = static_cast<size_t>(std::min<uint64_t>(remaining, buffer.size()));
        buffer.erase(0, n_data);
        framer.ConsumeData(n_data);
        outcome.forwarded += n_data;
        continue;
      }
      const std::string_view view =
          std::string_view(buffer).substr(0, ChunkedFramer::kMaxLineLength + 2);
      const ChunkedFramer::Step step = framer.Advance(view);
      EXPECT_LE(step.forward, view.size());
      buffer.erase(0, step.forward);
      outcome.forwarded += step.forward;
      if (step.error) {
        outcome.error = true;
        outcome.reason = std::string(step.reason);
        return outcome;
      }
      if (step.forward == 0) break;
    }
    if (framer.done()) break;
  }
  outcome.done = framer.done();
  return outcome;
}

Outcome FrameWhole(std::string_view body) { return Frame(body, {body.size()}); }

Outcome FrameByteByByte(std::string_view body) {
  return Frame(body, std::vector<size_t>(body.size(), 1));
}

Outcome FrameInRandomSplits(std::string_view body, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> size(1, 7);
  std::vector<size_t> pieces;
  for (size_t total = 0; total < body.size();) total += pieces.emplace_back(size(rng));
  return Frame(body, pieces);
}

// ---------------------------------------------------------------------------------------

struct ValidCase {
  std::string name;
  std::string body;  // exactly one chunked body
};

std::vector<ValidCase> ValidCases() {
  return {
      {"AcceptsLastChunkOnly", "0\r\n\r\n"},
      {"AcceptsOneChunk", "5\r\nhello\r\n0\r\n\r\n"},
      {"AcceptsSeveralChunks", "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"},
      {"AcceptsUppercaseHex", "A\r\n0123456789\r\n0\r\n\r\n"},
      {"AcceptsLeadingZerosInSize", "0005\r\nhello\r\n000\r\n\r\n"},
      {"AcceptsSixteenHexDigits", "0000000000000005\r\nhello\r\n0\r\n\r\n"},
      {"AcceptsExtensionWithoutValue", "5;foo\r\nhello\r\n0\r\n\r\n"},
      {"AcceptsExtensionWithTokenValue", "5;name=value\r\nhello\r\n0;last\r\n\r\n"},
      {"AcceptsExtensionWithQuotedValue", "5;a=\"b c;\\\"d\"\r\nhello\r\n0\r\n\r\n"},
      {"AcceptsSeveralExtensions", "5;a=1;b;c=\"x\"\r\nhello\r\n0\r\n\r\n"},
      {"AcceptsBadWhitespaceAroundExtensionSyntax", "5 ; a = 1 ;\tb\r\nhello\r\n0\r\n\r\n"},
      {"AcceptsTrailerFields", "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:\t1 \r\n\r\n"},
      {"AcceptsDataContainingCrlf", "4\r\n\r\n\r\n\r\n0\r\n\r\n"},
      {"AcceptsLargeChunk", "1000\r\n" + std::string(0x1000, 'x') + "\r\n0\r\n\r\n"},
  };
}

// Test names carry the case; gtest need not dump its bytes.
void PrintTo(const ValidCase& c, std::ostream* os) { *os << c.name; }

class ValidChunkedTest : public testing::TestWithParam<ValidCase> {};

TEST_P(ValidChunkedTest, FramesWholeBody) {
  const Outcome o = FrameWhole(GetParam().body);
  EXPECT_FALSE(o.error) << o.reason;
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.forwarded, GetParam().body.size());
}

TEST_P(ValidChunkedTest, FramesBodyFedByteByByte) {
  const Outcome o = FrameByteByByte(GetParam().body);
  EXPECT_FALSE(o.error) << o.reason;
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.forwarded, GetParam().body.size());
}

TEST_P(ValidChunkedTest, FramesBodyFedInRandomSplits) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    const Outcome o = FrameInRandomSplits(GetParam().body, seed);
    EXPECT_FALSE(o.error) << o.reason << " (seed " << seed << ")";
    EXPECT_TRUE(o.done);
    EXPECT_EQ(o.forwarded, GetParam().body.size());
  }
}

TEST_P(ValidChunkedTest, StopsAtTheEndOfTheBody) {
  const std::string next_request = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const Outcome o = FrameWhole(GetParam().body + next_request);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.forwarded, GetParam().body.size());
}

TEST_P(ValidChunkedTest, IsIncompleteWithoutTheFinalCrlf) {
  const std::string& body = GetParam().body;
  const Outcome o = FrameByteByByte(std::string_view(body).substr(0, body.size() - 1));
  EXPECT_FALSE(o.error) << o.reason;
  EXPECT_FALSE(o.done);
  EXPECT_EQ(o.forwarded, body.size() - 2);
}

INSTANTIATE_TEST_SUITE_P(Table, ValidChunkedTest, testing::ValuesIn(ValidCases()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------

struct InvalidCase {
  std::string name;
  std::string body;
};

std::vector<InvalidCase> InvalidCases() {
  return {
      {"RejectsNegativeSize", "-1\r\nx\r\n0\r\n\r\n"},
      {"RejectsHexPrefix", "0x10\r\n0123456789abcdef\r\n0\r\n\r\n"},
      {"RejectsLeadingSpace", " 5\r\nhello\r\n0\r\n\r\n"},
      {"RejectsTrailingSpace", "5 \r\nhello\r\n0\r\n\r\n"},
      {"RejectsPlusSign", "+5\r\nhello\r\n0\r\n\r\n"},
      {"RejectsEmptySizeLine", "\r\nhello\r\n0\r\n\r\n"},
      {"RejectsNonHexSize", "g\r\n"},
      {"RejectsSeventeenHexDigits", "00000000000000005\r\nhello\r\n0\r\n\r\n"},
      {"RejectsOverflowingSize", "ffffffffffffffffff\r\nx\r\n0\r\n\r\n"},
      {"RejectsBareLfAfterSize", "5\nhello\r\n0\r\n\r\n"},
      {"RejectsBareCrAfterSize", "5\rhello\r\n0\r\n\r\n"},
      {"RejectsMissingCrlfAfterData", "5\r\nhelloX\r\n0\r\n\r\n"},
      {"RejectsBareLfAfterData", "5\r\nhello\n0\r\n\r\n"},
      {"RejectsBareCrAfterData", "5\r\nhello\r0\r\n\r\n"},
      {"RejectsDataLongerThanSize", "3\r\nhello\r\n0\r\n\r\n"},
      {"RejectsEmptyExtension", "5;\r\nhello\r\n0\r\n\r\n"},
      {"RejectsExtensionWithoutName", "5;=a\r\nhello\r\n0\r\n\r\n"},
      {"RejectsExtensionWithoutValue", "5;a=\r\nhello\r\n0\r\n\r\n"},
      {"RejectsUnterminatedQuotedExtension", "5;a=\"b\r\nhello\r\n0\r\n\r\n"},
      {"RejectsControlCharacterInExtension", "5;a=b\x01\r\nhello\r\n0\r\n\r\n"},
      {"RejectsNulInExtension", "5;a\0\r\nhello\r\n0\r\n\r\n"s},
      {"RejectsControlCharacterLateInLongExtension",
       "5;a=" + std::string(200, 'x') + "\x01\r\nhello\r\n0\r\n\r\n"},
      {"RejectsTrailingWhitespaceAfterExtension", "5;a=b \r\nhello\r\n0\r\n\r\n"},
      {"RejectsObsFoldInTrailer", "0\r\nX-A: b\r\n c\r\n\r\n"},
      {"RejectsTrailerWithoutColon", "0\r\nX-A\r\n\r\n"},
      {"RejectsWhitespaceBeforeColonInTrailer", "0\r\nX-A : b\r\n\r\n"},
      {"RejectsNulInTrailer", "0\r\nX-A: b\0\r\n\r\n"s},
      {"RejectsBareCrEndingTrailers", "0\r\n\rx"},
      {"RejectsOverlongSizeLine",
       "5;a=\"" + std::string(ChunkedFramer::kMaxLineLength, 'x') + "\"\r\nhello\r\n0\r\n\r\n"},
      {"RejectsOverlongTrailerLine",
       "0\r\nX-A: " + std::string(ChunkedFramer::kMaxLineLength, 'x') + "\r\n\r\n"},
      {"RejectsOversizedTrailerSection",
       [] {
         std::string s = "0\r\n";
         for (size_t n = 0; n <= ChunkedFramer::kMaxTrailerBytes; n += 1007) {
           s += "X-A: " + std::string(1000, 'x') + "\r\n";
         }
         return s + "\r\n";
       }()},
  };
}

// Test names carry the case; gtest need not dump its bytes.
void PrintTo(const InvalidCase& c, std::ostream* os) { *os << c.name; }

class InvalidChunkedTest : public testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidChunkedTest, RejectsWholeBody) {
  const Outcome o = FrameWhole(GetParam().body);
  EXPECT_TRUE(o.error);
  EXPECT_FALSE(o.reason.empty());
  EXPECT_FALSE(o.done);
}

TEST_P(InvalidChunkedTest, RejectsBodyFedByteByByte) {
  const Outcome o = FrameByteByByte(GetParam().body);
  EXPECT_TRUE(o.error);
  EXPECT_FALSE(o.done);
}

TEST_P(InvalidChunkedTest, RejectsBodyFedInRandomSplits) {
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    const Outcome o = FrameInRandomSplits(GetParam().body, seed);
    EXPECT_TRUE(o.error) << "seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, InvalidChunkedTest, testing::ValuesIn(InvalidCases()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------

TEST(ChunkedFramerTest, ReportsChunkDataToMoveBlindly) {
  ChunkedFramer framer;
  const ChunkedFramer::Step step = framer.Advance("1a;x=y\r\nabc");
  EXPECT_FALSE(step.error);
  EXPECT_EQ(step.forward, 8u);
  EXPECT_EQ(framer.data_remaining(), 26u);
  framer.ConsumeData(10);
  EXPECT_EQ(framer.data_remaining(), 16u);
}

TEST(ChunkedFramerTest, RejectsMissingCrlfAsSoonAsDataEnds) {
  ChunkedFramer framer;
  ASSERT_EQ(framer.Advance("2\r\n").forward, 3u);
  framer.ConsumeData(2);
  const ChunkedFramer::Step step = framer.Advance("x");
  EXPECT_TRUE(step.error);
}

TEST(ChunkedFramerTest, WaitsForCompleteLines) {
  ChunkedFramer framer;
  EXPECT_EQ(framer.Advance("5").forward, 0u);
  EXPECT_EQ(framer.Advance("5;a=\"b").forward, 0u);
  EXPECT_EQ(framer.Advance("5\r").forward, 0u);
  EXPECT_FALSE(framer.Advance("5\r").error);
  EXPECT_EQ(framer.data_remaining(), 0u);
}

TEST(ChunkedFramerTest, RefusesGarbageBeforeTheLineEnds) {
  ChunkedFramer framer;
  EXPECT_TRUE(framer.Advance("-").error);
  framer.Reset();
  EXPECT_TRUE(framer.Advance("5 x").error);
}

TEST(ChunkedFramerTest, WaitsOnLongValidLinePrefix) {
  ChunkedFramer framer;
  const std::string line = "5;a=\"" + std::string(1000, 'x');
  for (size_t n = 1; n <= line.size(); ++n) {
    const ChunkedFramer::Step step = framer.Advance(std::string_view(line).substr(0, n));
    ASSERT_FALSE(step.error) << n;
    ASSERT_EQ(step.forward, 0u);
  }
  EXPECT_EQ(framer.Advance(line + "\"\r\n").forward, line.size() + 3);
  EXPECT_EQ(framer.data_remaining(), 5u);
}

TEST(ChunkedFramerTest, RejectsAdvanceAfterDone) {
  ChunkedFramer framer;
  ASSERT_EQ(framer.Advance("0\r\n\r\n").forward, 5u);
  ASSERT_TRUE(framer.done());
  EXPECT_TRUE(framer.Advance("0\r\n\r\n").error);
}

TEST(ChunkedFramerTest, ResetStartsANewBody) {
  ChunkedFramer framer;
  ASSERT_EQ(framer.Advance("0\r\n\r\n").forward, 5u);
  framer.Reset();
  EXPECT_FALSE(framer.done());
  EXPECT_EQ(framer.Advance("3\r\n").forward, 3u);
  EXPECT_EQ(framer.data_remaining(), 3u);
}

TEST(ChunkedFramerTest, AcceptsLargestSixteenDigitSize) {
  ChunkedFramer framer;
  const ChunkedFramer::Step step = framer.Advance("ffffffffffffffff\r\n");
  EXPECT_FALSE(step.error);
  EXPECT_EQ(framer.data_remaining(), UINT64_MAX);
}

}  // namespace
}  // namespace outrigger::http
