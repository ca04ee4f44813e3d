#include "core/status.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  VIGIL_ASSIGN_OR_RETURN(int half, Half(x));
  return Half(half);
}

Status CheckEven(int x) {
  VIGIL_RETURN_IF_ERROR(Half(x).status());
  return OkStatus();
}

TEST(Status, AnnotatePrefixesContextAndKeepsCode) {
  Status s = DataLossError("bad checksum").Annotate("read record 3").Annotate("open wal");
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "open wal: read record 3: bad checksum");
  EXPECT_EQ(s.ToString(), "DataLoss: open wal: read record 3: bad checksum");
  EXPECT_TRUE(OkStatus().Annotate("x").ok());
}

TEST(Result, MacrosPropagateErrorsAndValues) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3).message(), "odd");
}

TEST(ResultDeathTest, ValueOfErrorStopsTheProcess) {
  EXPECT_DEATH((void)Half(3).value(), "value\\(\\) of a failed Result");
}

}  // namespace
}  // namespace vigil
