#include "model/remote_read.h"

#include <snappy.h>

#include "remote.pb.h"

namespace vigil::model {

Result<std::vector<ReadQuery>> DecodeReadRequest(std::string_view compressed) {
  std::string bytes;
  if (!snappy::Uncompress(compressed.data(), compressed.size(), &bytes)) {
    return InvalidArgumentError("remote read: the body is not snappy-compressed");
  }
  prometheus::ReadRequest request;
  if (!request.ParseFromString(bytes)) {
    return InvalidArgumentError("remote read: the body is not a ReadRequest");
  }
  std::vector<ReadQuery> out;
  for (const prometheus::Query& q : request.queries()) {
    ReadQuery query{q.start_timestamp_ms(), q.end_timestamp_ms(), {}};
    for (const prometheus::LabelMatcher& m : q.matchers()) {
      MatchType type = MatchType::kEqual;
      switch (m.type()) {
        case prometheus::LabelMatcher::NEQ:
          type = MatchType::kNotEqual;
          break;
        case prometheus::LabelMatcher::RE:
          type = MatchType::kRegexMatch;
          break;
        case prometheus::LabelMatcher::NRE:
          type = MatchType::kRegexNoMatch;
          break;
        default:
          break;
      }
      auto matcher = Matcher::Create(type, m.name(), m.value());
      if (!matcher.ok()) return matcher.status().Annotate("remote read");
      query.matchers.push_back(*std::move(matcher));
    }
    out.push_back(std::move(query));
  }
  return out;
}

std::string EncodeReadResponse(const std::vector<std::vector<Series>>& results) {
  prometheus::ReadResponse response;
  for (const std::vector<Series>& result : results) {
    prometheus::QueryResult* r = response.add_results();
    for (const Series& s : result) {
      prometheus::TimeSeries* ts = r->add_timeseries();
      for (const LabelRef& l : s.labels) {
        prometheus::Label* label = ts->add_labels();
        label->set_name(std::string(l.name));
        label->set_value(std::string(l.value));
      }
      for (const Sample& p : s.samples) {
        prometheus::Sample* sample = ts->add_samples();
        sample->set_timestamp(p.timestamp_ms);
        sample->set_value(p.value);
      }
    }
  }
  std::string bytes, compressed;
  response.SerializeToString(&bytes);
  snappy::Compress(bytes.data(), bytes.size(), &compressed);
  return compressed;
}

}  // namespace vigil::model
