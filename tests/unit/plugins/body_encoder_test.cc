// BodyEncoder: gzip and brotli streams that decode to the input, each piece decodable as soon
// as its Encode returned (the flush that keeps a streamed response streamed), and encoders
// reused from the pool producing fresh streams.
#include "plugins/compress/body_encoder.h"

#include <brotli/decode.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

#include "proxy/net/event.h"

namespace outrigger::plugins {
namespace {

std::string Drain(evbuffer* b) {
  std::string s(evbuffer_get_length(b), '\0');
  evbuffer_remove(b, s.data(), s.size());
  return s;
}

// Decodes a stream given piece by piece, each piece at once (no waiting for the next).
class Decoder {
 public:
  explicit Decoder(Coding coding) : coding_(coding) {
    if (coding_ == Coding::kGzip) {
      EXPECT_EQ(inflateInit2(&z_, 15 + 16), Z_OK);
    } else {
      br_ = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
    }
  }
  ~Decoder() {
    if (coding_ == Coding::kGzip) {
      inflateEnd(&z_);
    } else {
      BrotliDecoderDestroyInstance(br_);
    }
  }

  std::string Feed(const std::string& in) {
    std::string out;
    char buf[4096];
    if (coding_ == Coding::kGzip) {
      z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
      z_.avail_in = static_cast<uInt>(in.size());
      do {
        z_.next_out = reinterpret_cast<Bytef*>(buf);
        z_.avail_out = sizeof buf;
        const int rc = inflate(&z_, Z_SYNC_FLUSH);
        EXPECT_TRUE(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR) << rc;
        finished_ = rc == Z_STREAM_END;
        out.append(buf, sizeof buf - z_.avail_out);
      } while (z_.avail_out == 0);
      return out;
    }
    size_t avail_in = in.size();
    const auto* next_in = reinterpret_cast<const uint8_t*>(in.data());
    BrotliDecoderResult r;
    do {
      size_t avail_out = sizeof buf;
      auto* next_out = reinterpret_cast<uint8_t*>(buf);
      r = BrotliDecoderDecompressStream(br_, &avail_in, &next_in, &avail_out, &next_out, nullptr);
      EXPECT_NE(r, BROTLI_DECODER_RESULT_ERROR);
      out.append(buf, sizeof buf - avail_out);
    } while (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT);
    finished_ = r == BROTLI_DECODER_RESULT_SUCCESS;
    return out;
  }
  bool finished() const { return finished_; }

 private:
  Coding coding_;
  z_stream z_{};
  BrotliDecoderState* br_ = nullptr;
  bool finished_ = false;
};

class BodyEncoderTest : public ::testing::TestWithParam<Coding> {
 protected:
  BodyEncoderTest() : in_(evbuffer_new()), out_(evbuffer_new()) {}

  // Encodes `piece`; returns what the client decodes of it at once.
  std::string Send(BodyEncoder& e, Decoder& d, const std::string& piece, bool finish) {
    evbuffer_add(in_.get(), piece.data(), piece.size());
    EXPECT_TRUE(e.Encode(in_.get(), out_.get(), finish).ok());
    EXPECT_EQ(evbuffer_get_length(in_.get()), 0u);
    return d.Feed(Drain(out_.get()));
  }

  net::EvBufferPtr in_;
  net::EvBufferPtr out_;
  EncoderPool pool_;
};

TEST_P(BodyEncoderTest, EachPieceDecodesAsSoonAsItIsEncoded) {
  absl::StatusOr<std::unique_ptr<BodyEncoder>> e = pool_.Take(GetParam(), 1);
  ASSERT_TRUE(e.ok());
  Decoder d(GetParam());
  EXPECT_EQ(Send(**e, d, "data: first event\n\n", false), "data: first event\n\n");
  EXPECT_EQ(Send(**e, d, "data: second\n\n", false), "data: second\n\n");
  EXPECT_FALSE(d.finished());
  EXPECT_EQ(Send(**e, d, "", true), "");
  EXPECT_TRUE(d.finished());
}

TEST_P(BodyEncoderTest, LargeBodiesInManySegmentsRoundTripAndShrink) {
  std::string body;
  for (int i = 0; body.size() < 3 * 1024 * 1024; ++i) body += "line " + std::to_string(i) + "\n";
  // Many evbuffer segments in one call, as a large read leaves them.
  for (size_t at = 0; at < body.size(); at += 1000) {
    evbuffer_add(in_.get(), body.data() + at, std::min<size_t>(1000, body.size() - at));
  }
  absl::StatusOr<std::unique_ptr<BodyEncoder>> e = pool_.Take(GetParam(), 5);
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE((*e)->Encode(in_.get(), out_.get(), /*finish=*/true).ok());
  const std::string encoded = Drain(out_.get());
  EXPECT_LT(encoded.size(), body.size() / 3);
  Decoder d(GetParam());
  const std::string decoded = d.Feed(encoded);
  EXPECT_EQ(decoded.size(), body.size());
  EXPECT_TRUE(decoded == body);  // not EXPECT_EQ: a mismatch would print megabytes
  EXPECT_TRUE(d.finished());
}

TEST_P(BodyEncoderTest, AnEncoderFromThePoolStartsAFreshStream) {
  for (int round = 0; round < 3; ++round) {
    absl::StatusOr<std::unique_ptr<BodyEncoder>> e = pool_.Take(GetParam(), 1 + round);
    ASSERT_TRUE(e.ok());
    Decoder d(GetParam());
    const std::string body = "round " + std::to_string(round);
    EXPECT_EQ(Send(**e, d, body, true), body);
    EXPECT_TRUE(d.finished());
    pool_.Give(GetParam(), *std::move(e));
  }
}

INSTANTIATE_TEST_SUITE_P(Codings, BodyEncoderTest,
                         ::testing::Values(Coding::kGzip, Coding::kBrotli),
                         [](const ::testing::TestParamInfo<Coding>& info) {
                           return std::string(info.param == Coding::kGzip ? "gzip" : "brotli");
                         });

}  // namespace
}  // namespace outrigger::plugins
