#include "core/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace vigil::crc32c {
namespace {

TEST(Crc32c, MatchesPublishedCheckValues) {
  // RFC 3720 B.4 and the usual "123456789" check value.
  EXPECT_EQ(Value("123456789"), 0xE3069283u);
  EXPECT_EQ(Value(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Value(std::string(32, '\xff')), 0x62A8AB43u);
  EXPECT_EQ(Value(""), 0u);
}

TEST(Crc32c, ExtendEqualsOneShotAtEverySplit) {
  std::mt19937 rng(7);
  std::string data(300, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  const uint32_t whole = Value(data);
  for (size_t split = 0; split <= data.size(); split += 13) {
    std::string_view view(data);
    EXPECT_EQ(Extend(Value(view.substr(0, split)), view.substr(split)), whole) << split;
  }
}

TEST(Crc32c, DetectsASingleFlippedBit) {
  std::string data = "write-ahead log record";
  const uint32_t before = Value(data);
  data[5] ^= 0x10;
  EXPECT_NE(Value(data), before);
}

}  // namespace
}  // namespace vigil::crc32c
