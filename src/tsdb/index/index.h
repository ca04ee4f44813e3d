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
#include <cstring>
#include <map>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/check.h"
#include "core/hash_slots.h"
#include "model/labels.h"
#include "model/matcher.h"
#include "tsdb/index/posting_list.h"

namespace vigil::tsdb::index {

// What the index knows of a series; the store's series record derives from it. The
// labels' bytes follow the record in its allocation (a million series: a million
// allocations fewer, and no pointer): records are made by Make and freed by Free.
struct Entry {
  const uint64_t id;  // nonzero
  model::LabelsView labels() const {
    return model::LabelsView(
        std::string_view(reinterpret_cast<const char*>(this) + labels_offset_, label_bytes_));
  }

  // A T (deriving from Entry) of `labels`, constructed from id and args.
  template <typename T, typename... Args>
  static T* Make(model::LabelsView labels, uint64_t id, Args&&... args) {
    static_assert(std::is_base_of_v<Entry, T>);
    const std::string_view text = labels.text();
    VIGIL_CHECK(text.size() <= UINT32_MAX, "label set too large");
    char* block = static_cast<char*>(::operator new(sizeof(T) + text.size()));
    T* made = new (block) T(id, std::forward<Args>(args)...);
    if (!text.empty()) std::memcpy(block + sizeof(T), text.data(), text.size());
    Entry* entry = made;
    entry->labels_offset_ =
        static_cast<uint32_t>(block + sizeof(T) - reinterpret_cast<char*>(entry));
    entry->label_bytes_ = static_cast<uint32_t>(text.size());
    return made;
  }
  template <typename T>
  static void Free(T* made) {
    static_assert(std::is_base_of_v<Entry, T>);
    made->~T();
    ::operator delete(static_cast<void*>(made));
  }

 protected:
  explicit Entry(uint64_t series_id) : id(series_id) {}
  ~Entry() = default;

 private:
  uint32_t labels_offset_ = 0;  // from this
  uint32_t label_bytes_ = 0;
};

class Index {
 public:
  // The series with `labels`, or nullptr. `hash` is labels.Hash().
  Entry* Find(model::LabelsView labels, uint64_t hash) const;
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
