#include "tsdb/wal_record.h"

#include <bit>
#include <cstring>

#include "tsdb/varint.h"

namespace vigil::tsdb {
namespace {

void PutString(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool Varint(uint64_t* v) {
    std::string_view rest = data_.substr(pos_);
    const bool ok = TakeVarint(&rest, v);
    pos_ = data_.size() - rest.size();
    return ok;
  }
  bool Signed(int64_t* v) {
    uint64_t raw = 0;
    if (!Varint(&raw)) return false;
    *v = static_cast<int64_t>(raw >> 1) ^ -static_cast<int64_t>(raw & 1);
    return true;
  }
  bool String(std::string* s) {
    uint64_t n = 0;
    if (!Varint(&n) || n > data_.size() - pos_) return false;
    s->assign(data_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool Double(double* v) {
    if (data_.size() - pos_ < 8) return false;
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) {
      bits |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
    }
    pos_ += 8;
    *v = std::bit_cast<double>(bits);
    return true;
  }
  size_t remaining() const { return data_.size() - pos_; }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace

void EncodeSamplesRecord(std::span<const NewSeries> new_series, std::span<const SampleGroup> groups,
                         std::string* out) {
  out->clear();
  out->push_back(static_cast<char>(kSamplesRecord));
  PutVarint(out, new_series.size());
  for (const NewSeries& s : new_series) {
    PutVarint(out, s.id);
    PutVarint(out, s.labels.size());
    for (const model::LabelRef& label : s.labels) {
      PutString(out, label.name);
      PutString(out, label.value);
    }
  }
  PutVarint(out, groups.size());
  // The samples, most of the record, through a pointer into room sized for the worst
  // case (10 bytes of varint and 8 of value per sample) and cut to size after.
  size_t room = 0;
  for (const SampleGroup& g : groups) room += 20 + 18 * g.samples.size();
  size_t used = out->size();
  out->resize(used + room);
  char* p = out->data() + used;
  auto varint = [&p](uint64_t v) {
    while (v >= 0x80) {
      *p++ = static_cast<char>((v & 0x7F) | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<char>(v);
  };
  for (const SampleGroup& g : groups) {
    varint(g.id);
    varint(g.samples.size());
    int64_t previous = 0;
    for (size_t i = 0; i < g.samples.size(); ++i) {
      const int64_t delta =
          i == 0 ? g.samples[i].timestamp_ms
                 : static_cast<int64_t>(static_cast<uint64_t>(g.samples[i].timestamp_ms) -
                                        static_cast<uint64_t>(previous));
      varint((static_cast<uint64_t>(delta) << 1) ^ static_cast<uint64_t>(delta >> 63));
      previous = g.samples[i].timestamp_ms;
    }
    for (const model::Sample& s : g.samples) {
      const uint64_t bits = std::bit_cast<uint64_t>(s.value);
      for (int i = 0; i < 8; ++i) *p++ = static_cast<char>((bits >> (8 * i)) & 0xFF);
    }
  }
  out->resize(static_cast<size_t>(p - out->data()));
}

Status DecodeSamplesRecord(std::string_view record, DecodedRecord* out) {
  out->new_series.clear();
  out->groups.clear();
  out->samples.clear();
  if (record.empty() || static_cast<uint8_t>(record[0]) != kSamplesRecord) {
    return DataLossError("wal record: unknown type");
  }
  Reader in(record.substr(1));
  const auto bad = [](std::string_view what) {
    return DataLossError("wal record: malformed " + std::string(what));
  };
  uint64_t series_count = 0;
  if (!in.Varint(&series_count) || series_count > in.remaining()) return bad("series count");
  for (uint64_t i = 0; i < series_count; ++i) {
    DecodedSeries series;
    uint64_t label_count = 0;
    if (!in.Varint(&series.id) || !in.Varint(&label_count) || label_count > in.remaining()) {
      return bad("series");
    }
    std::vector<model::Label> pairs(label_count);
    for (model::Label& label : pairs) {
      if (!in.String(&label.name) || !in.String(&label.value)) return bad("label");
    }
    auto labels = model::Labels::FromPairs(std::move(pairs));
    if (!labels.ok()) return DataLossError("wal record: " + labels.status().message());
    series.labels = *std::move(labels);
    out->new_series.push_back(std::move(series));
  }
  uint64_t group_count = 0;
  if (!in.Varint(&group_count) || group_count > in.remaining()) return bad("group count");
  out->groups.reserve(group_count);
  out->samples.reserve(in.remaining() / 9);  // a sample takes 9 bytes at least
  std::vector<size_t> ends;  // each group's end in out->samples, spans set once all are in
  ends.reserve(group_count);
  for (uint64_t i = 0; i < group_count; ++i) {
    uint64_t id = 0;
    uint64_t n = 0;
    if (!in.Varint(&id) || !in.Varint(&n) || n > in.remaining()) return bad("group");
    const size_t first = out->samples.size();
    out->samples.resize(first + n);
    model::Sample* samples = out->samples.data() + first;
    int64_t t = 0;
    for (uint64_t j = 0; j < n; ++j) {
      int64_t delta = 0;
      if (!in.Signed(&delta)) return bad("timestamp");
      t = j == 0 ? delta
                 : static_cast<int64_t>(static_cast<uint64_t>(t) + static_cast<uint64_t>(delta));
      samples[j].timestamp_ms = t;
    }
    for (uint64_t j = 0; j < n; ++j) {
      if (!in.Double(&samples[j].value)) return bad("value");
    }
    out->groups.push_back({id, {}});
    ends.push_back(out->samples.size());
  }
  if (in.remaining() != 0) return bad("trailing bytes");
  size_t first = 0;
  for (size_t i = 0; i < out->groups.size(); ++i) {
    out->groups[i].samples = std::span(out->samples).subspan(first, ends[i] - first);
    first = ends[i];
  }
  return OkStatus();
}

}  // namespace vigil::tsdb
