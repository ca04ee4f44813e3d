// SeriesCache builds the Labels of a sensor's series — its base labels (from the config,
// agent="<id>") plus a metric name and a few labels of its own — once, and hands the same
// Labels back on later readings, so a collection does not sort and validate label sets
// again every second. Entries not asked for during 100 collections are dropped (a device
// or mount point that went away), so the cache does not grow without bound.
//
// Thread safety: one thread at a time (the sensor's).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/options.h"
#include "model/labels.h"

namespace vigil::sensors {

class SeriesCache {
 public:
  using Extra = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  explicit SeriesCache(const config::LabelMap& base);

  // The labels of `metric` with `extra`; nullptr when they are not a valid label set (a
  // metric or label name the caller derived from input). Valid until the next EndCollection.
  const model::Labels* Get(std::string_view metric, Extra extra = {});
  // Marks the end of one collection; ages out entries unused for 100 collections.
  void EndCollection();
  size_t size() const { return cache_.size(); }

 private:
  struct Entry {
    model::Labels labels;
    bool valid = false;
    uint64_t last_used = 0;
  };
  std::vector<model::Label> base_;
  std::unordered_map<std::string, Entry> cache_;
  std::string key_;
  uint64_t generation_ = 0;
};

}  // namespace vigil::sensors
