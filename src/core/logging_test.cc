#include "core/logging.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

TEST(ParseLogLevel, KnowsEveryLevelAndNamesThemOnError) {
  EXPECT_EQ(*ParseLogLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  auto bad = ParseLogLevel("loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("trace, debug, info"), std::string::npos);
}

}  // namespace
}  // namespace vigil
