#include "store/json_lines_sink.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "testing/mem_env.h"

namespace vigil::store {
namespace {

model::Batch Batch(int samples) {
  model::Batch batch;
  model::Series series{model::Labels::Of({{"__name__", "boiler_pressure_out"}, {"unit", "bar"}}),
                       {}};
  for (int i = 0; i < samples; ++i) series.samples.push_back({1000 + i, 15.0 + i / 100.0});
  batch.series.push_back(std::move(series));
  return batch;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(JsonLinesSink, OneParsableLinePerSample) {
  testing::MemEnv env;
  auto sink = *JsonLinesSink::Open(env, {.dir = "d"});
  ASSERT_TRUE(sink->Append(Batch(3)).ok());
  ASSERT_TRUE(sink->Flush().ok());
  auto lines = Lines(*env.ReadFile("d/events.jsonl"));
  ASSERT_EQ(lines.size(), 3u);
  auto event = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(event["kind"], "sample");
  EXPECT_EQ(event["labels"]["__name__"], "boiler_pressure_out");
  EXPECT_EQ(event["labels"]["unit"], "bar");
  EXPECT_EQ(event["timestamp_ms"], 1001);
  EXPECT_DOUBLE_EQ(event["value"].get<double>(), 15.01);
}

TEST(JsonLinesSink, EscapesLabelsAndWritesNonFiniteValuesAsStrings) {
  auto labels = model::Labels::Of({{"__name__", "m"}, {"msg", "a\"b\\c\nd\te\x01"}});
  std::string line = SampleEventJson(labels, {5, std::numeric_limits<double>::quiet_NaN()});
  auto event = nlohmann::json::parse(line);
  EXPECT_EQ(event["labels"]["msg"], "a\"b\\c\nd\te\x01");
  EXPECT_EQ(event["value"], "NaN");
  EXPECT_EQ(nlohmann::json::parse(SampleEventJson(labels, {5, -INFINITY}))["value"], "-Inf");
}

TEST(JsonLinesSink, RotatesBySizeAndKeepsTheNewestFiles) {
  testing::MemEnv env;
  auto sink = *JsonLinesSink::Open(env, {.dir = "d", .max_bytes = 1000, .keep = 2});
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(sink->Append(Batch(3)).ok());
  ASSERT_TRUE(sink->Flush().ok());
  auto files = *env.Children("d");
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"events.jsonl", "events.jsonl.1", "events.jsonl.2"}));
  for (const auto& name : files) {
    uint64_t size = *env.FileSize("d/" + name);
    EXPECT_LT(size, 1000u + 3 * 200u) << name;
    for (const auto& line : Lines(*env.ReadFile("d/" + name))) {
      EXPECT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded()) << line;
    }
  }
}

// gunzip, with zlib's inflate (an independent path from Gzip's deflate).
std::string Gunzip(const std::string& gz) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

TEST(JsonLinesSink, CompressedRotationKeepsEveryLineInGzipFiles) {
  testing::MemEnv env;
  auto sink =
      *JsonLinesSink::Open(env, {.dir = "d", .max_bytes = 1000, .keep = 2, .compress = true});
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(sink->Append(Batch(3)).ok());
  ASSERT_TRUE(sink->Flush().ok());
  auto files = *env.Children("d");
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files,
            (std::vector<std::string>{"events.jsonl", "events.jsonl.1.gz", "events.jsonl.2.gz"}));
  std::string gz = *env.ReadFile("d/events.jsonl.1.gz");
  ASSERT_GE(gz.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);  // the gzip magic
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  auto lines = Lines(Gunzip(gz));
  EXPECT_GE(lines.size(), 5u);
  for (const auto& line : lines) EXPECT_EQ(nlohmann::json::parse(line)["kind"], "sample");
  EXPECT_LT(gz.size(), 1000u);  // repetitive JSON compresses
}

TEST(JsonLinesSink, ReopeningAppendsAndCountsTheExistingSize) {
  testing::MemEnv env;
  {
    auto sink = *JsonLinesSink::Open(env, {.dir = "d", .max_bytes = 300, .keep = 1});
    ASSERT_TRUE(sink->Append(Batch(1)).ok());
  }
  auto sink = *JsonLinesSink::Open(env, {.dir = "d", .max_bytes = 300, .keep = 1});
  ASSERT_TRUE(sink->Append(Batch(2)).ok());  // 3 lines > 300 bytes: rotated
  EXPECT_EQ(Lines(*env.ReadFile("d/events.jsonl.1")).size(), 3u);
  EXPECT_EQ(*env.FileSize("d/events.jsonl"), 0u);
}

TEST(JsonLinesSink, EveryWriteFailureIsReportedNeverIgnored) {
  // Fault matrix: fail the nth write operation for every n a run performs.
  for (int n = 1; n <= 8; ++n) {
    testing::MemEnv env;
    auto sink = *JsonLinesSink::Open(env, {.dir = "d", .max_bytes = 500, .keep = 1, .sync = true});
    env.FailWritesFrom(n);
    bool failed = false;
    for (int i = 0; i < 4 && !failed; ++i) {
      Status status = sink->Append(Batch(2));
      if (status.ok()) status = sink->Flush();
      if (!status.ok()) {
        failed = true;
        EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
        EXPECT_NE(status.message().find("injected fault"), std::string::npos);
      }
    }
    EXPECT_TRUE(failed) << "write " << n << " never failed";
  }
}

}  // namespace
}  // namespace vigil::store
