#include "model/batch_codec.h"

#include <snappy.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "model/json_values.h"

namespace vigil::model {
namespace {

// Protobuf wire types and the field tags of remote.proto.
constexpr uint32_t kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;
constexpr uint8_t kTagTimeSeries = (1 << 3) | kLengthDelimited;
constexpr uint8_t kTagLabel = (1 << 3) | kLengthDelimited;
constexpr uint8_t kTagSample = (2 << 3) | kLengthDelimited;
constexpr uint8_t kTagName = (1 << 3) | kLengthDelimited;
constexpr uint8_t kTagValue = (2 << 3) | kLengthDelimited;
constexpr uint8_t kTagSampleValue = (1 << 3) | kFixed64;
constexpr uint8_t kTagSampleTimestamp = (2 << 3) | kVarint;

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

char* PutVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

size_t LabelSize(const LabelRef& l) {
  return 1 + VarintSize(l.name.size()) + l.name.size() + 1 + VarintSize(l.value.size()) +
         l.value.size();
}

// As proto3 does, fields holding their zero value (+0.0, timestamp 0) are not written, so
// that our bytes are libprotobuf's bytes.
bool HasValue(const Sample& s) {
  uint64_t bits;
  std::memcpy(&bits, &s.value, 8);
  return bits != 0;
}

size_t SampleSize(const Sample& s) {
  // int64 timestamps are varints of their two's complement: negatives take 10 bytes.
  return (HasValue(s) ? 1 + 8 : 0) +
         (s.timestamp_ms != 0 ? 1 + VarintSize(static_cast<uint64_t>(s.timestamp_ms)) : 0);
}

size_t SeriesSize(const Series& series) {
  size_t n = 0;
  for (const auto& l : series.labels) {
    size_t m = LabelSize(l);
    n += 1 + VarintSize(m) + m;
  }
  for (const auto& s : series.samples) {
    size_t m = SampleSize(s);
    n += 1 + VarintSize(m) + m;
  }
  return n;
}

char* PutString(char* p, uint8_t tag, std::string_view s) {
  *p++ = static_cast<char>(tag);
  p = PutVarint(p, s.size());
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

void EncodeWriteRequestInto(const Batch& batch, std::string* out) {
  thread_local std::vector<size_t> series_sizes;
  series_sizes.clear();
  size_t total = 0;
  for (const auto& series : batch.series) {
    size_t n = SeriesSize(series);
    series_sizes.push_back(n);
    total += 1 + VarintSize(n) + n;
  }
  out->resize(total);
  char* p = out->data();
  for (size_t i = 0; i < batch.series.size(); ++i) {
    const Series& series = batch.series[i];
    *p++ = static_cast<char>(kTagTimeSeries);
    p = PutVarint(p, series_sizes[i]);
    for (const auto& l : series.labels) {
      *p++ = static_cast<char>(kTagLabel);
      p = PutVarint(p, LabelSize(l));
      p = PutString(p, kTagName, l.name);
      p = PutString(p, kTagValue, l.value);
    }
    for (const auto& s : series.samples) {
      *p++ = static_cast<char>(kTagSample);
      p = PutVarint(p, SampleSize(s));
      if (HasValue(s)) {
        *p++ = static_cast<char>(kTagSampleValue);
        std::memcpy(p, &s.value, 8);  // little-endian, as protobuf's fixed64
        p += 8;
      }
      if (s.timestamp_ms != 0) {
        *p++ = static_cast<char>(kTagSampleTimestamp);
        p = PutVarint(p, static_cast<uint64_t>(s.timestamp_ms));
      }
    }
  }
  VIGIL_CHECK(p == out->data() + out->size(), "write request size mismatch");
}

// Reads protobuf wire format from a byte range; every read checks the bounds.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes)
      : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  bool done() const { return p_ == end_; }

  Status ReadVarint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return Truncated("varint");
      uint8_t byte = static_cast<uint8_t>(*p_++);
      result |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) {
        *v = result;
        return OkStatus();
      }
    }
    return InvalidArgumentError("varint longer than 10 bytes");
  }

  Status ReadTag(uint32_t* field, uint32_t* wire_type) {
    uint64_t tag;
    VIGIL_RETURN_IF_ERROR(ReadVarint(&tag));
    *field = static_cast<uint32_t>(tag >> 3);
    *wire_type = static_cast<uint32_t>(tag & 7);
    if (*field == 0 || tag > UINT32_MAX) return InvalidArgumentError("invalid field tag");
    return OkStatus();
  }

  Status ReadBytes(std::string_view* bytes) {
    uint64_t n;
    VIGIL_RETURN_IF_ERROR(ReadVarint(&n));
    if (n > static_cast<uint64_t>(end_ - p_)) return Truncated("length-delimited field");
    *bytes = std::string_view(p_, n);
    p_ += n;
    return OkStatus();
  }

  Status ReadFixed64(uint64_t* v) {
    if (end_ - p_ < 8) return Truncated("fixed64");
    std::memcpy(v, p_, 8);
    p_ += 8;
    return OkStatus();
  }

  // Skips a field of a type vigil does not read.
  Status Skip(uint32_t wire_type) {
    uint64_t ignored;
    std::string_view ignored_bytes;
    switch (wire_type) {
      case kVarint:
        return ReadVarint(&ignored);
      case kFixed64:
        return ReadFixed64(&ignored);
      case kLengthDelimited:
        return ReadBytes(&ignored_bytes);
      case kFixed32:
        if (end_ - p_ < 4) return Truncated("fixed32");
        p_ += 4;
        return OkStatus();
      default:
        return InvalidArgumentError("unsupported wire type " + std::to_string(wire_type));
    }
  }

 private:
  static Status Truncated(const char* what) {
    return InvalidArgumentError(std::string("truncated ") + what);
  }
  const char* p_;
  const char* end_;
};

Status ExpectWireType(uint32_t actual, uint32_t expected, const char* field) {
  if (actual == expected) return OkStatus();
  return InvalidArgumentError(std::string("field ") + field + " has wire type " +
                              std::to_string(actual));
}

Status DecodeLabel(std::string_view bytes, std::vector<Label>* labels) {
  WireReader r(bytes);
  Label label;
  while (!r.done()) {
    uint32_t field, wire_type;
    VIGIL_RETURN_IF_ERROR(r.ReadTag(&field, &wire_type));
    if (field == 1 || field == 2) {
      VIGIL_RETURN_IF_ERROR(ExpectWireType(wire_type, kLengthDelimited, "label"));
      std::string_view s;
      VIGIL_RETURN_IF_ERROR(r.ReadBytes(&s));
      (field == 1 ? label.name : label.value).assign(s);
    } else {
      VIGIL_RETURN_IF_ERROR(r.Skip(wire_type));
    }
  }
  labels->push_back(std::move(label));
  return OkStatus();
}

Status DecodeSample(std::string_view bytes, std::vector<Sample>* samples) {
  WireReader r(bytes);
  Sample sample;
  while (!r.done()) {
    uint32_t field, wire_type;
    VIGIL_RETURN_IF_ERROR(r.ReadTag(&field, &wire_type));
    if (field == 1) {
      VIGIL_RETURN_IF_ERROR(ExpectWireType(wire_type, kFixed64, "sample.value"));
      uint64_t bits;
      VIGIL_RETURN_IF_ERROR(r.ReadFixed64(&bits));
      std::memcpy(&sample.value, &bits, 8);
    } else if (field == 2) {
      VIGIL_RETURN_IF_ERROR(ExpectWireType(wire_type, kVarint, "sample.timestamp"));
      uint64_t v;
      VIGIL_RETURN_IF_ERROR(r.ReadVarint(&v));
      sample.timestamp_ms = static_cast<int64_t>(v);
    } else {
      VIGIL_RETURN_IF_ERROR(r.Skip(wire_type));
    }
  }
  samples->push_back(sample);
  return OkStatus();
}

Status DecodeSeries(std::string_view bytes, Series* series) {
  WireReader r(bytes);
  std::vector<Label> labels;
  while (!r.done()) {
    uint32_t field, wire_type;
    VIGIL_RETURN_IF_ERROR(r.ReadTag(&field, &wire_type));
    if (field == 1 || field == 2) {
      VIGIL_RETURN_IF_ERROR(ExpectWireType(wire_type, kLengthDelimited, "timeseries"));
      std::string_view sub;
      VIGIL_RETURN_IF_ERROR(r.ReadBytes(&sub));
      if (field == 1) {
        VIGIL_RETURN_IF_ERROR(DecodeLabel(sub, &labels));
      } else {
        VIGIL_RETURN_IF_ERROR(DecodeSample(sub, &series->samples));
      }
    } else {
      VIGIL_RETURN_IF_ERROR(r.Skip(wire_type));
    }
  }
  VIGIL_ASSIGN_OR_RETURN(series->labels, Labels::FromPairs(std::move(labels)));
  return OkStatus();
}

}  // namespace

std::string EncodeWriteRequest(const Batch& batch) {
  std::string out;
  EncodeWriteRequestInto(batch, &out);
  return out;
}

Result<Batch> DecodeWriteRequest(std::string_view bytes) {
  WireReader r(bytes);
  Batch batch;
  while (!r.done()) {
    uint32_t field, wire_type;
    VIGIL_RETURN_IF_ERROR(r.ReadTag(&field, &wire_type).Annotate("decode batch"));
    if (field != 1) {
      VIGIL_RETURN_IF_ERROR(r.Skip(wire_type).Annotate("decode batch"));
      continue;
    }
    VIGIL_RETURN_IF_ERROR(
        ExpectWireType(wire_type, kLengthDelimited, "timeseries").Annotate("decode batch"));
    std::string_view sub;
    VIGIL_RETURN_IF_ERROR(r.ReadBytes(&sub).Annotate("decode batch"));
    Series& series = batch.series.emplace_back();
    VIGIL_RETURN_IF_ERROR(
        DecodeSeries(sub, &series)
            .Annotate("decode batch: series " + std::to_string(batch.series.size() - 1)));
  }
  return batch;
}

void EncodeBatch(const Batch& batch, std::string* out) {
  thread_local std::string uncompressed;
  EncodeWriteRequestInto(batch, &uncompressed);
  snappy::Compress(uncompressed.data(), uncompressed.size(), out);
}

std::string EncodeBatch(const Batch& batch) {
  std::string out;
  EncodeBatch(batch, &out);
  return out;
}

Result<Batch> DecodeBatch(std::string_view compressed) {
  size_t length = 0;
  if (!snappy::GetUncompressedLength(compressed.data(), compressed.size(), &length)) {
    return InvalidArgumentError("decode batch: not snappy-compressed data");
  }
  if (length > kMaxDecodedBatchBytes) {
    return InvalidArgumentError("decode batch: uncompressed size " + std::to_string(length) +
                                " is above the limit of " + std::to_string(kMaxDecodedBatchBytes));
  }
  thread_local std::string uncompressed;
  uncompressed.resize(length);
  if (!snappy::RawUncompress(compressed.data(), compressed.size(), uncompressed.data())) {
    return InvalidArgumentError("decode batch: corrupt snappy data");
  }
  return DecodeWriteRequest(uncompressed);
}

std::string EncodeBatchJson(const Batch& batch) {
  nlohmann::json series = nlohmann::json::array();
  for (const auto& s : batch.series) {
    nlohmann::json samples = nlohmann::json::array();
    for (const auto& sample : s.samples) {
      samples.push_back({sample.timestamp_ms, JsonFromDouble(sample.value)});
    }
    series.push_back({{"labels", JsonFromLabels(s.labels)}, {"samples", std::move(samples)}});
  }
  return nlohmann::json{{"series", std::move(series)}}.dump();
}

Result<Batch> DecodeBatchJson(std::string_view text) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgumentError("decode batch: invalid JSON");
  if (!doc.is_object() || !doc.contains("series") || !doc["series"].is_array()) {
    return InvalidArgumentError("decode batch: expected an object with a \"series\" array");
  }
  Batch batch;
  for (const auto& item : doc["series"]) {
    std::string where = "decode batch: series " + std::to_string(batch.series.size());
    if (!item.is_object() || !item.contains("labels") || !item.contains("samples") ||
        !item["samples"].is_array()) {
      return InvalidArgumentError(where + ": expected {\"labels\":{...},\"samples\":[...]}");
    }
    Series series;
    auto labels = LabelsFromJson(item["labels"]);
    if (!labels.ok()) return labels.status().Annotate(where);
    series.labels = std::move(labels).value();
    for (const auto& pair : item["samples"]) {
      if (!pair.is_array() || pair.size() != 2) {
        return InvalidArgumentError(where + ": a sample is [timestamp_ms, value]");
      }
      auto timestamp = Int64FromJson(pair[0]);
      auto value = DoubleFromJson(pair[1]);
      if (!timestamp.ok()) return timestamp.status().Annotate(where + ": timestamp");
      if (!value.ok()) return value.status().Annotate(where + ": value");
      series.samples.push_back({*timestamp, *value});
    }
    batch.series.push_back(std::move(series));
  }
  return batch;
}

Result<Batch> DecodeBatchAs(std::string_view content_type, std::string_view body) {
  if (content_type == kProtobufContentType) return DecodeBatch(body);
  if (content_type == kJsonContentType) return DecodeBatchJson(body);
  return InvalidArgumentError("unsupported content type \"" + std::string(content_type) + "\"");
}

}  // namespace vigil::model
