#include "core/logging.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

TEST(MaskCredentials, HidesPasswordsOnly) {
  EXPECT_EQ(MaskCredentials("amqp://guest:secret@127.0.0.1:5672/vhost"),
            "amqp://guest:***@127.0.0.1:5672/vhost");
  EXPECT_EQ(MaskCredentials("postgres://u:p%40ss@db/x?sslmode=require"),
            "postgres://u:***@db/x?sslmode=require");
  EXPECT_EQ(MaskCredentials("amqp://guest@host/"), "amqp://guest@host/");
  EXPECT_EQ(MaskCredentials("amqp://host:5672/"), "amqp://host:5672/");
  EXPECT_EQ(MaskCredentials("not a url"), "not a url");
}

TEST(ParseLogLevel, KnowsEveryLevelAndNamesThemOnError) {
  EXPECT_EQ(*ParseLogLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  auto bad = ParseLogLevel("loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("trace, debug, info"), std::string::npos);
}

}  // namespace
}  // namespace vigil
