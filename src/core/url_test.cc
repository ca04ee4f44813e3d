#include "core/url.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

TEST(RedactUrl, HidesThePasswordOfTheAuthorityOnly) {
  EXPECT_EQ(RedactUrl("https://u:p@host:8443/x?y=1"), "https://u:***@host:8443/x?y=1");
  EXPECT_EQ(RedactUrl("http://u:p@ss@host/"), "http://u:***@host/");  // the last @ ends it
  EXPECT_EQ(RedactUrl("http://host/a@b:c"), "http://host/a@b:c");     // an @ in the path stays
  EXPECT_EQ(RedactUrl("http://u@host/"), "http://u@host/");           // no password
  EXPECT_EQ(RedactUrl("http://host"), "http://host");
  EXPECT_EQ(RedactUrl("postgresql://vigil:s3cret@db:5432/vigil?sslmode=require"),
            "postgresql://vigil:***@db:5432/vigil?sslmode=require");
}

TEST(RedactUrl, HidesEveryPasswordOfANodeList) {
  EXPECT_EQ(RedactUrl("amqp://u:p@a/,amqp://u:q@b/"), "amqp://u:***@a/,amqp://u:***@b/");
  EXPECT_EQ(RedactUrl("amqp://u:p@a:5672/v"), "amqp://u:***@a:5672/v");
}

TEST(UrlWithoutUserinfo, TakesUserAndPasswordOutOfTheAuthorityOnly) {
  EXPECT_EQ(UrlWithoutUserinfo("https://u:p@host:8443/x?y=1"), "https://host:8443/x?y=1");
  EXPECT_EQ(UrlWithoutUserinfo("http://u:p@ss@host/"), "http://host/");  // the last @ ends it
  EXPECT_EQ(UrlWithoutUserinfo("http://host/a@b"), "http://host/a@b");   // an @ in the path stays
  EXPECT_EQ(UrlWithoutUserinfo("http://host"), "http://host");
}

}  // namespace
}  // namespace vigil
