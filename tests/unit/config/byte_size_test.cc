// ParseByteSize: bytes, or an integer and one binary unit; nothing guessed.
#include <gtest/gtest.h>

#include "proxy/config/loader.h"

namespace outrigger::config {
namespace {

// The parsed value, or -1 when it is rejected.
int64_t Bytes(std::string_view text) {
  absl::StatusOr<uint64_t> n = ParseByteSize(text);
  return n.ok() ? static_cast<int64_t>(*n) : -1;
}

TEST(ParseByteSizeTest, ReadsBytesAndEveryUnit) {
  EXPECT_EQ(Bytes("0"), 0);
  EXPECT_EQ(Bytes("65536"), 65536);
  EXPECT_EQ(Bytes("512KiB"), 512 * 1024);
  EXPECT_EQ(Bytes("10MiB"), 10 * 1024 * 1024);
  EXPECT_EQ(Bytes("2GiB"), int64_t{2} << 30);
}

TEST(ParseByteSizeTest, RejectsDecimalUnitsSignsAndFractions) {
  for (std::string_view bad :
       {"", "MiB", "10MB", "10mib", "10 MiB", "-1", "+1", "1.5MiB", "1e6", "0x10", "10MiB "}) {
    EXPECT_EQ(Bytes(bad), -1) << bad;
  }
}

TEST(ParseByteSizeTest, RejectsMoreThan1024GiB) {
  EXPECT_EQ(Bytes("1024GiB"), int64_t{1} << 40);
  EXPECT_EQ(Bytes("1025GiB"), -1);
  EXPECT_EQ(Bytes("1099511627777"), -1);
  EXPECT_EQ(Bytes("99999999999999999999999"), -1);
}

}  // namespace
}  // namespace outrigger::config
