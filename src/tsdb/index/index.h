// The series index of the embedded store: label set -> series id (a hash map on the
// label set's xxh3 hash, collisions resolved by comparing the labels), and postings per
// label pair (sorted id lists) to select series by matchers as Prometheus does: `=`,
// `!=`, `=~`, `!~`, regexes fully anchored, an absent label matching as "".
//
// Thread safety: none; the store's lock guards it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/hash_slots.h"
#include "model/labels.h"
#include "model/matcher.h"

namespace vigil::tsdb::index {

class Index {
 public:
  // The id of `labels`, or 0 when unknown. `hash` is labels.Hash().
  uint64_t Find(const model::Labels& labels, uint64_t hash) const;
  // Makes a Find of `hash` soon cheaper (HashSlots::Prefetch).
  void Prefetch(uint64_t hash) const { by_hash_.Prefetch(hash); }
  // Adds a series; `id` must be new and non-zero.
  void Add(uint64_t id, model::Labels labels);
  void Remove(uint64_t id);
  // The labels of `id`, or nullptr.
  const model::Labels* Get(uint64_t id) const;

  // Ids of the series matching every matcher, ascending. No matchers: every series.
  std::vector<uint64_t> Select(const std::vector<model::Matcher>& matchers) const;
  std::vector<std::string> LabelNames(const std::vector<model::Matcher>& matchers) const;
  std::vector<std::string> LabelValues(const std::string& name,
                                       const std::vector<model::Matcher>& matchers) const;

  size_t size() const { return labels_.size(); }
  // Calls fn(id, labels) for every series, in no particular order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& [id, labels] : labels_) fn(id, labels);
  }

 private:
  using Postings = std::vector<uint64_t>;  // ascending ids
  Postings PostingsFor(const model::Matcher& matcher) const;

  using Entry = std::pair<const uint64_t, model::Labels>;
  static const Entry* EntryAt(uint64_t slot_value) {
    return reinterpret_cast<const Entry*>(slot_value);
  }

  std::unordered_map<uint64_t, model::Labels> labels_;  // its nodes never move
  // labels hash -> the address of the series' entry in labels_: a lookup compares the
  // labels there, without finding the id in labels_ first (two cache misses less).
  HashSlots by_hash_;
  using ValuePostings = std::map<std::string, Postings, std::less<>>;
  std::map<std::string, ValuePostings, std::less<>> postings_;
  Postings all_;
};

}  // namespace vigil::tsdb::index
