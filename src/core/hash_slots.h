// HashSlots maps 64-bit hashes to nonzero values under 2^48 (addresses, indexes) in one
// flat array (open addressing, linear probing), for indexes whose keys are expensive to
// store twice: the caller keeps the keys (label sets) and says, given a value, whether it
// is the one looked for. A hash may hold several values (collisions).
//
// A slot is 8 bytes: the value in the low 48 bits, the top 16 bits of its hash above, so
// that a probe rarely asks about a value that is not the one looked for. The full hash
// is not kept: growing the array asks the caller for each value's hash again (hash_of).
// One cache miss a lookup where a node-based std::unordered_multimap takes three or
// more, no allocation per entry, and 16 bytes or less a value (8 at the densest).
//
// Thread safety: none; the owner's lock guards it.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

#include "core/check.h"

namespace vigil {

class HashSlots {
 public:
  static constexpr uint64_t kMaxValue = (uint64_t{1} << 48) - 2;

  // The first value stored under `hash` for which is_it(value) is true, or 0.
  template <typename IsIt>
  uint64_t Find(uint64_t hash, IsIt&& is_it) const {
    if (slots_.empty()) return 0;
    const uint64_t tag = hash & kTagMask;
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const uint64_t slot = slots_[i];
      if (slot == kEmpty) return 0;
      if ((slot & kTagMask) == tag && slot != kErased && is_it(slot & kValueMask)) {
        return slot & kValueMask;
      }
    }
  }

  // Starts loading the slot where a Find of `hash` begins, so that a Find a little later
  // does not wait for memory (a table of a million values is far larger than the cache).
  void Prefetch(uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & mask_]);
  }

  // Adds value (in [1, kMaxValue]) under hash. hash_of(value) gives the hash any stored
  // value was inserted under (called when the array grows).
  template <typename HashOf>
  void Insert(uint64_t hash, uint64_t value, HashOf&& hash_of) {
    VIGIL_CHECK(value != 0 && value <= kMaxValue, "HashSlots value out of range");
    // Full at 3/4, erased slots counted: room for twice the live values (twice the
    // slots when none were erased), so the next rehash is at least n/4 inserts away.
    if ((used_ + 1) * 4 > slots_.size() * 3) Rehash(std::bit_ceil(2 * (live_ + 1)), hash_of);
    Place(hash, value);
    ++live_;
  }

  // Removes value from under hash; nothing when it is not there.
  void Erase(uint64_t hash, uint64_t value) {
    if (slots_.empty()) return;
    const uint64_t wanted = (hash & kTagMask) | value;
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      uint64_t& slot = slots_[i];
      if (slot == kEmpty) return;
      if (slot == wanted) {
        slot = kErased;  // keeps the probe chains behind it intact
        --live_;
        return;
      }
    }
  }

  // Room for n values without a rehash.
  template <typename HashOf>
  void Reserve(size_t n, HashOf&& hash_of) {
    if ((n + 1) * 4 > slots_.size() * 3) Rehash(std::bit_ceil(((n + 1) * 4 + 2) / 3), hash_of);
  }
  size_t size() const { return live_; }
  size_t slot_count() const { return slots_.size(); }  // 8 bytes each
  void Clear() {
    slots_.assign(slots_.size(), kEmpty);
    used_ = live_ = 0;
  }
  // Every value, in slot order: for (uint64_t value : slots.values()).
  class Values {
   public:
    class Iterator {
     public:
      Iterator(const uint64_t* at, const uint64_t* end) : at_(at), end_(end) { SkipFree(); }
      uint64_t operator*() const { return *at_ & kValueMask; }
      Iterator& operator++() {
        ++at_;
        SkipFree();
        return *this;
      }
      bool operator==(const Iterator& other) const { return at_ == other.at_; }

     private:
      void SkipFree() {
        while (at_ != end_ && (*at_ == kEmpty || *at_ == kErased)) ++at_;
      }
      const uint64_t* at_;
      const uint64_t* end_;
    };
    Iterator begin() const { return {begin_, end_}; }
    Iterator end() const { return {end_, end_}; }

   private:
    friend class HashSlots;
    Values(const uint64_t* begin, const uint64_t* end) : begin_(begin), end_(end) {}
    const uint64_t* begin_;
    const uint64_t* end_;
  };
  Values values() const { return {slots_.data(), slots_.data() + slots_.size()}; }

 private:
  static constexpr uint64_t kEmpty = 0;
  static constexpr uint64_t kErased = UINT64_MAX;
  static constexpr uint64_t kValueMask = (uint64_t{1} << 48) - 1;
  static constexpr uint64_t kTagMask = ~kValueMask;

  // Puts value in the first free slot of hash's probe chain.
  void Place(uint64_t hash, uint64_t value) {
    size_t i = hash & mask_;
    while (slots_[i] != kEmpty && slots_[i] != kErased) i = (i + 1) & mask_;
    if (slots_[i] == kEmpty) ++used_;
    slots_[i] = (hash & kTagMask) | value;
  }

  // `count` slots (a power of two; at least 16); erased slots are dropped.
  template <typename HashOf>
  void Rehash(size_t count, HashOf&& hash_of) {
    std::vector<uint64_t> old = std::move(slots_);
    slots_.assign(std::max<size_t>(16, count), kEmpty);
    mask_ = slots_.size() - 1;
    used_ = 0;
    for (uint64_t slot : old) {
      if (slot != kEmpty && slot != kErased) Place(hash_of(slot & kValueMask), slot & kValueMask);
    }
  }

  std::vector<uint64_t> slots_;
  size_t mask_ = 0;
  size_t used_ = 0;  // slots not empty: live and erased
  size_t live_ = 0;
};

}  // namespace vigil
