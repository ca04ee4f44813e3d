#include "model/batch_codec.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "remote.pb.h"

namespace vigil::model {
namespace {

Batch SampleBatch() {
  Batch batch;
  batch.series.push_back({Labels::Of({{"__name__", "boiler_pressure_out"}, {"unit", "bar"}}),
                          {{1'700'000'000'000, 15.25}, {1'700'000'001'000, 15.3}}});
  batch.series.push_back({Labels::Of({{"__name__", "turbine_speed"}, {"msg", "a \"q\"\n"}}),
                          {{-5, -0.0}, {0, 1e308}, {7, 0.0}, {INT64_MAX, -1e-308}}});
  batch.series.push_back({Labels::Of({{"__name__", "empty_series"}}), {}});
  return batch;
}

// Exact comparison, NaN payloads and signed zeros included.
void ExpectBitIdentical(const Batch& a, const Batch& b) {
  ASSERT_EQ(a.series.size(), b.series.size());
  for (size_t i = 0; i < a.series.size(); ++i) {
    EXPECT_EQ(a.series[i].labels, b.series[i].labels);
    ASSERT_EQ(a.series[i].samples.size(), b.series[i].samples.size());
    for (size_t j = 0; j < a.series[i].samples.size(); ++j) {
      const Sample& x = a.series[i].samples[j];
      const Sample& y = b.series[i].samples[j];
      EXPECT_EQ(x.timestamp_ms, y.timestamp_ms);
      EXPECT_EQ(std::memcmp(&x.value, &y.value, 8), 0) << x.value << " vs " << y.value;
    }
  }
}

TEST(BatchCodec, BinaryRoundTripIsExact) {
  Batch batch = SampleBatch();
  double nan_with_payload;
  uint64_t bits = 0x7FF8'0000'DEAD'BEEF;
  std::memcpy(&nan_with_payload, &bits, 8);
  batch.series[0].samples.push_back({1, nan_with_payload});
  batch.series[0].samples.push_back({2, std::numeric_limits<double>::infinity()});
  batch.series[0].samples.push_back({3, -std::numeric_limits<double>::infinity()});
  auto decoded = DecodeBatch(EncodeBatch(batch));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ExpectBitIdentical(batch, *decoded);
}

TEST(BatchCodec, LibprotobufReadsWhatWeWrite) {
  Batch batch = SampleBatch();
  prometheus::WriteRequest request;
  ASSERT_TRUE(request.ParseFromString(EncodeWriteRequest(batch)));
  ASSERT_EQ(request.timeseries_size(), 3);
  const auto& ts = request.timeseries(1);
  EXPECT_EQ(ts.labels(0).name(), "__name__");
  EXPECT_EQ(ts.labels(0).value(), "turbine_speed");
  EXPECT_EQ(ts.labels(1).value(), "a \"q\"\n");
  ASSERT_EQ(ts.samples_size(), 4);
  EXPECT_EQ(ts.samples(0).timestamp(), -5);
  EXPECT_TRUE(std::signbit(ts.samples(0).value()));
  EXPECT_EQ(ts.samples(2).value(), 0.0);
  EXPECT_EQ(ts.samples(3).timestamp(), INT64_MAX);
  // And byte for byte as libprotobuf would write it.
  EXPECT_EQ(request.SerializeAsString(), EncodeWriteRequest(batch));
}

TEST(BatchCodec, WeReadWhatLibprotobufWritesAndSkipUnknownFields) {
  prometheus::WriteRequest request;
  auto* ts = request.add_timeseries();
  // Unsorted, as a careless sender might send them.
  auto* l = ts->add_labels();
  l->set_name("zone");
  l->set_value("b");
  l = ts->add_labels();
  l->set_name("__name__");
  l->set_value("up");
  auto* s = ts->add_samples();
  s->set_value(1);
  s->set_timestamp(42);
  std::string bytes = request.SerializeAsString();
  // Field 3 (metadata) and an exemplar-like field inside the series are skipped.
  bytes += std::string("\x1a\x02\x08\x01", 4);
  auto decoded = DecodeWriteRequest(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->series.size(), 1u);
  EXPECT_EQ(decoded->series[0].labels.ToString(), "up{zone=\"b\"}");
  EXPECT_EQ(decoded->series[0].samples[0], (Sample{42, 1}));
}

TEST(BatchCodec, GarbageIsAnErrorNeverACrash) {
  EXPECT_EQ(DecodeBatch("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(DecodeBatch("not snappy at all").ok());
  // A snappy header that claims 4 GiB is refused before allocating.
  EXPECT_NE(DecodeBatch(std::string("\xff\xff\xff\xff\x0f", 5))
                .status()
                .message()
                .find("above the limit"),
            std::string::npos);
  std::string good = EncodeWriteRequest(SampleBatch());
  // Every truncation of a valid message is an error or a (shorter) valid batch.
  for (size_t n = 0; n < good.size(); ++n) (void)DecodeWriteRequest(good.substr(0, n));
  EXPECT_EQ(DecodeWriteRequest(good.substr(0, good.size() - 1)).status().code(),
            StatusCode::kInvalidArgument);
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = good;
    for (int flips = 0; flips < 3; ++flips) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    (void)DecodeWriteRequest(bytes);
    std::string compressed;
    snappy::Compress(bytes.data(), bytes.size(), &compressed);
    (void)DecodeBatch(compressed);
  }
}

TEST(BatchCodec, InvalidLabelsInTheWireAreRejected) {
  prometheus::WriteRequest request;
  auto* l = request.add_timeseries()->add_labels();
  l->set_name("bad-name");
  l->set_value("x");
  auto decoded = DecodeWriteRequest(request.SerializeAsString());
  EXPECT_EQ(decoded.status().message(), "decode batch: series 0: invalid label name \"bad-name\"");
}

TEST(BatchCodec, RandomizedRoundTripBinaryAndJson) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    Batch batch;
    int series = static_cast<int>(rng() % 20);
    for (int s = 0; s < series; ++s) {
      Series one{Labels::Of({{"__name__", "m" + std::to_string(s)}, {"v", std::to_string(rng())}}),
                 {}};
      int samples = static_cast<int>(rng() % 30);
      for (int i = 0; i < samples; ++i) {
        double value;
        uint64_t bits = rng();
        std::memcpy(&value, &bits, 8);
        if (std::isnan(value)) value = 0.5;  // JSON keeps NaN but not its payload
        one.samples.push_back({static_cast<int64_t>(rng()), value});
      }
      batch.series.push_back(std::move(one));
    }
    auto binary = DecodeBatch(EncodeBatch(batch));
    ASSERT_TRUE(binary.ok());
    ExpectBitIdentical(batch, *binary);
    auto json = DecodeBatchJson(EncodeBatchJson(batch));
    ASSERT_TRUE(json.ok()) << json.status().ToString();
    ExpectBitIdentical(batch, *json);
  }
}

TEST(BatchCodecJson, ReadsTheDocumentedShape) {
  auto batch = DecodeBatchJson(
      R"({"series":[{"labels":{"__name__":"up","job":"x"},"samples":[[1000,1],[2000,"NaN"],[3000,"+Inf"]]}]})");
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ(batch->series[0].labels.ToString(), "up{job=\"x\"}");
  EXPECT_TRUE(std::isnan(batch->series[0].samples[1].value));
  EXPECT_TRUE(std::isinf(batch->series[0].samples[2].value));
}

TEST(BatchCodecJson, MalformedInputSaysWhatIsWrong) {
  EXPECT_EQ(DecodeBatchJson("{").status().message(), "decode batch: invalid JSON");
  EXPECT_EQ(DecodeBatchJson("[]").status().message(),
            "decode batch: expected an object with a \"series\" array");
  EXPECT_EQ(DecodeBatchJson(R"({"series":[{"labels":{"a":1},"samples":[]}]})").status().message(),
            "decode batch: series 0: value of label \"a\" must be a string");
  EXPECT_EQ(DecodeBatchJson(R"({"series":[{"labels":{},"samples":[[1]]}]})").status().message(),
            "decode batch: series 0: a sample is [timestamp_ms, value]");
  EXPECT_EQ(
      DecodeBatchJson(R"({"series":[{"labels":{},"samples":[[1.5, 2]]}]})").status().message(),
      "decode batch: series 0: timestamp: expected an integer");
  EXPECT_EQ(DecodeBatchJson(R"({"series":[{"labels":{},"samples":[[18446744073709551615, 2]]}]})")
                .status()
                .message(),
            "decode batch: series 0: timestamp: integer out of range");
  EXPECT_EQ(DecodeBatchAs("text/plain", "x").status().message(),
            "unsupported content type \"text/plain\"");
}

}  // namespace
}  // namespace vigil::model
