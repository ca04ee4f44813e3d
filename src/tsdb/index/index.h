// The series index of the embedded store: label set -> series (an open-addressing table
// on the label set's xxh3 hash, collisions resolved by comparing the labels), id ->
// series (the same on the id), and postings per label pair (sorted id lists) to select
// series by matchers as Prometheus does: `=`, `!=`, `=~`, `!~`, regexes fully anchored,
// an absent label matching as "".
//
// The index does not own its entries: the store's series record is an Entry, one
// allocation per series holding the id, the labels and the rest (a million series keep
// a million of them).
//
// Thread safety: none; the store's lock guards it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/hash_slots.h"
#include "model/labels.h"
#include "model/matcher.h"
#include "tsdb/index/posting_list.h"

namespace vigil::tsdb::index {

// What the index knows of a series; the store's series record derives from it.
struct Entry {
  Entry(uint64_t series_id, model::Labels series_labels)
      : id(series_id), labels(std::move(series_labels)) {}
  const uint64_t id;  // nonzero
  const model::Labels labels;
};

class Index {
 public:
  // The series with `labels`, or nullptr. `hash` is labels.Hash().
  Entry* Find(const model::Labels& labels, uint64_t hash) const;
  // Makes a Find of `hash`, or a Get of `id`, soon cheaper (HashSlots::Prefetch).
  void Prefetch(uint64_t hash) const { by_hash_.Prefetch(hash); }
  void PrefetchId(uint64_t id) const { by_id_.Prefetch(IdHash(id)); }
  // Adds a series whose id and labels are new. The caller keeps `entry` alive, at the
  // same address, until it removes it.
  void Add(Entry* entry);
  void Remove(const Entry* entry);
  // The series `id`, or nullptr.
  Entry* Get(uint64_t id) const;

  // Ids of the series matching every matcher, ascending. No matchers: every series.
  std::vector<uint64_t> Select(const std::vector<model::Matcher>& matchers) const;
  std::vector<std::string> LabelNames(const std::vector<model::Matcher>& matchers) const;
  std::vector<std::string> LabelValues(const std::string& name,
                                       const std::vector<model::Matcher>& matchers) const;

  size_t size() const { return by_id_.size(); }
  // Every series, in no particular order: for (Entry& entry : index.entries()).
  class Entries {
   public:
    class Iterator {
     public:
      explicit Iterator(HashSlots::Values::Iterator at) : at_(at) {}
      Entry& operator*() const { return *EntryAt(*at_); }
      Iterator& operator++() {
        ++at_;
        return *this;
      }
      bool operator==(const Iterator& other) const { return at_ == other.at_; }

     private:
      HashSlots::Values::Iterator at_;
    };
    explicit Entries(HashSlots::Values values) : values_(values) {}
    Iterator begin() const { return Iterator(values_.begin()); }
    Iterator end() const { return Iterator(values_.end()); }

   private:
    HashSlots::Values values_;
  };
  Entries entries() const { return Entries(by_id_.values()); }

 private:
  using Postings = std::vector<uint64_t>;  // ascending ids
  Postings PostingsFor(const model::Matcher& matcher) const;
  static Entry* EntryAt(uint64_t slot_value) { return reinterpret_cast<Entry*>(slot_value); }
  static uint64_t SlotValue(const Entry* entry) { return reinterpret_cast<uint64_t>(entry); }
  // Ids are dense: mixed so that the table's low bits spread them.
  static uint64_t IdHash(uint64_t id);

  HashSlots by_hash_;  // labels hash -> entry
  HashSlots by_id_;    // IdHash(id) -> entry
  using ValuePostings = std::map<std::string, PostingList, std::less<>>;
  std::map<std::string, ValuePostings, std::less<>> postings_;
};

}  // namespace vigil::tsdb::index
