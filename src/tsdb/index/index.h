// The series index of the embedded store: label set -> series (an open-addressing table
// on the label set's xxh3 hash, collisions resolved by comparing the labels), id ->
// series (pages of slots indexed by id), and postings per label pair (sorted id lists) to select
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
#include <memory>
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
  // Makes a Find of `hash` soon cheaper (HashSlots::Prefetch).
  void Prefetch(uint64_t hash) const { by_hash_.Prefetch(hash); }
  // Adds a series whose id and labels are new. The caller keeps `entry` alive, at the
  // same address, until it removes it.
  void Add(Entry* entry);
  void Remove(const Entry* entry);
  // The series `id`, or nullptr.
  Entry* Get(uint64_t id) const { return by_id_.Get(id); }

  // Ids of the series matching every matcher, ascending. No matchers: every series.
  std::vector<uint64_t> Select(const std::vector<model::Matcher>& matchers) const;
  std::vector<std::string> LabelNames(const std::vector<model::Matcher>& matchers) const;
  std::vector<std::string> LabelValues(const std::string& name,
                                       const std::vector<model::Matcher>& matchers) const;

  size_t size() const { return by_id_.size(); }

 private:
  // Entries by id, in pages of kPageIds slots: the store numbers series from 1 upwards,
  // so a million series take 8 bytes each here (a hash table of 8-byte slots, doubling,
  // took 16 at a million). A page goes with its last entry, and empty pages at the front
  // of the directory are given back, so that ids that came and went cost nothing; a page
  // stays while any of its series does (4 KiB for one series at worst).
  class ById {
   public:
    static constexpr uint64_t kPageIds = 512;
    struct Page {
      Entry* slots[kPageIds] = {};
      uint32_t live = 0;
    };
    Entry* Get(uint64_t id) const {
      const Page* page = PageOf(id);
      return page == nullptr ? nullptr : page->slots[id % kPageIds];
    }
    void Prefetch(uint64_t id) const {
      if (const Page* page = PageOf(id)) __builtin_prefetch(&page->slots[id % kPageIds]);
    }
    void Add(Entry* entry);  // its id not there yet
    void Remove(uint64_t id);
    size_t size() const { return size_; }
    const std::vector<std::unique_ptr<Page>>& pages() const { return pages_; }

   private:
    const Page* PageOf(uint64_t id) const {
      const uint64_t at = id / kPageIds - first_page_;  // wraps below the first
      return at < pages_.size() ? pages_[at].get() : nullptr;
    }
    uint64_t first_page_ = 0;                   // the page number of pages_[0]
    std::vector<std::unique_ptr<Page>> pages_;  // nullptr: no entry in that page
    size_t size_ = 0;
  };

 public:
  // Makes a Get of `id` soon cheaper.
  void PrefetchId(uint64_t id) const { by_id_.Prefetch(id); }

  // Every series, by ascending id: for (Entry& entry : index.entries()).
  class Entries {
   public:
    class Iterator {
     public:
      using Pages = std::vector<std::unique_ptr<ById::Page>>;
      Iterator(const Pages* pages, size_t page) : pages_(pages), page_(page) { SkipEmpty(); }
      Entry& operator*() const { return *(*pages_)[page_]->slots[slot_]; }
      Iterator& operator++() {
        ++slot_;
        SkipEmpty();
        return *this;
      }
      bool operator==(const Iterator& other) const {
        return page_ == other.page_ && slot_ == other.slot_;
      }

     private:
      void SkipEmpty() {
        for (; page_ < pages_->size(); ++page_, slot_ = 0) {
          const ById::Page* page = (*pages_)[page_].get();
          if (page == nullptr) continue;
          while (slot_ < ById::kPageIds && page->slots[slot_] == nullptr) ++slot_;
          if (slot_ < ById::kPageIds) return;
        }
      }
      const Pages* pages_;
      size_t page_;
      size_t slot_ = 0;
    };
    explicit Entries(const ById& by_id) : by_id_(by_id) {}
    Iterator begin() const { return Iterator(&by_id_.pages(), 0); }
    Iterator end() const { return Iterator(&by_id_.pages(), by_id_.pages().size()); }

   private:
    const ById& by_id_;
  };
  Entries entries() const { return Entries(by_id_); }

 private:
  using Postings = std::vector<uint64_t>;  // ascending ids
  Postings PostingsFor(const model::Matcher& matcher) const;
  static Entry* EntryAt(uint64_t slot_value) { return reinterpret_cast<Entry*>(slot_value); }
  static uint64_t SlotValue(const Entry* entry) { return reinterpret_cast<uint64_t>(entry); }

  HashSlots by_hash_;  // labels hash -> entry
  ById by_id_;
  using ValuePostings = std::map<std::string, PostingList, std::less<>>;
  std::map<std::string, ValuePostings, std::less<>> postings_;
};

}  // namespace vigil::tsdb::index
