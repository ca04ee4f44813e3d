#include "core/env.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "testing/mem_env.h"

namespace vigil {
namespace {

TEST(PosixEnv, AppendsRenamesListsAndDeletes) {
  std::string dir = ::testing::TempDir() + "/vigil_env_" + std::to_string(getpid());
  Env& env = Env::Default();
  ASSERT_TRUE(env.CreateDirs(dir + "/sub").ok());
  std::string path = dir + "/sub/a";
  {
    auto file = env.NewAppendableFile(path);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append("hello ").ok());
    ASSERT_TRUE((*file)->Append("world").ok());
    ASSERT_TRUE((*file)->Sync().ok());
    ASSERT_TRUE((*file)->Close().ok());
  }
  {
    auto file = env.NewAppendableFile(path);  // appends, does not truncate
    ASSERT_TRUE((*file)->Append("!").ok());
  }
  EXPECT_EQ(*env.ReadFile(path), "hello world!");
  EXPECT_EQ(*env.FileSize(path), 12u);
  ASSERT_TRUE(env.RenameFile(path, dir + "/sub/b").ok());
  EXPECT_FALSE(env.FileExists(path));
  EXPECT_EQ(*env.Children(dir + "/sub"), std::vector<std::string>{"b"});
  ASSERT_TRUE(env.DeleteFile(dir + "/sub/b").ok());
  EXPECT_EQ(env.ReadFile(dir + "/sub/b").status().code(), StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

// Faults fail the nth write and every one after; a failed sync loses what was not
// synced before it, as Linux may after a writeback error.
TEST(MemEnv, InjectedFaultFailsTheNthWriteAndAfter) {
  testing::MemEnv env;
  auto file = *env.NewAppendableFile("f");
  ASSERT_TRUE(file->Append("a").ok());
  ASSERT_TRUE(file->Sync().ok());
  env.FailWritesFrom(2);
  EXPECT_TRUE(file->Append("b").ok());
  EXPECT_EQ(file->Append("c").code(), StatusCode::kUnavailable);
  EXPECT_EQ(file->SyncFlushed().code(), StatusCode::kUnavailable);
  env.ClearFaults();
  EXPECT_TRUE(file->Append("d").ok());
  EXPECT_EQ(*env.ReadFile("f"), "ad");
}

}  // namespace
}  // namespace vigil
