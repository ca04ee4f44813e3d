#include "sensors/series_cache.h"

namespace vigil::sensors {

SeriesCache::SeriesCache(const config::LabelMap& base) {
  for (const auto& [name, value] : base) base_.push_back({name, value});
}

const model::Labels* SeriesCache::Get(std::string_view metric, Extra extra) {
  key_.assign(metric);
  for (const auto& [name, value] : extra) {
    key_ += '\xff';
    key_ += name;
    key_ += '\xfe';
    key_ += value;
  }
  auto [it, inserted] = cache_.try_emplace(key_);
  Entry& entry = it->second;
  if (inserted) {
    std::vector<model::Label> pairs = base_;
    pairs.push_back({std::string(model::kMetricNameLabel), std::string(metric)});
    for (const auto& [name, value] : extra)
      pairs.push_back({std::string(name), std::string(value)});
    auto labels = model::Labels::FromPairs(std::move(pairs));
    entry.valid = labels.ok();
    if (labels.ok()) entry.labels = std::move(labels).value();
  }
  entry.last_used = generation_;
  return entry.valid ? &entry.labels : nullptr;
}

void SeriesCache::EndCollection() {
  ++generation_;
  if (generation_ % 100 != 0) return;
  std::erase_if(cache_, [&](const auto& kv) { return generation_ - kv.second.last_used > 100; });
}

}  // namespace vigil::sensors
