// HashSlots maps 64-bit hashes to nonzero 64-bit values in one flat array (open
// addressing, linear probing), for indexes whose keys are expensive to store twice: the
// caller keeps the keys (label sets) and says, given a value, whether it is the one
// looked for. A hash may hold several values (collisions). One cache miss a lookup
// where a node-based std::unordered_multimap takes three or more, and no allocation per
// entry.
//
// Thread safety: none; the owner's lock guards it.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

namespace vigil {

class HashSlots {
 public:
  // The first value stored under `hash` for which is_it(value) is true, or 0.
  template <typename IsIt>
  uint64_t Find(uint64_t hash, IsIt&& is_it) const {
    if (slots_.empty()) return 0;
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.value == kEmpty) return 0;
      if (slot.hash == hash && slot.value != kErased && is_it(slot.value)) return slot.value;
    }
  }

  // Starts loading the slot where a Find of `hash` begins, so that a Find a little later
  // does not wait for memory (a table of a million values is far larger than the cache).
  void Prefetch(uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & mask_]);
  }

  // Adds value (nonzero, not UINT64_MAX) under hash.
  void Insert(uint64_t hash, uint64_t value) {
    // Full at 3/4, erased slots counted: room for twice the live values (twice the
    // slots when none were erased), so the next rehash is at least n/4 inserts away.
    if ((used_ + 1) * 4 > slots_.size() * 3) Rehash(std::bit_ceil(2 * (live_ + 1)));
    size_t i = hash & mask_;
    while (slots_[i].value != kEmpty && slots_[i].value != kErased) i = (i + 1) & mask_;
    if (slots_[i].value == kEmpty) ++used_;
    slots_[i] = {hash, value};
    ++live_;
  }

  // Removes value from under hash; nothing when it is not there.
  void Erase(uint64_t hash, uint64_t value) {
    if (slots_.empty()) return;
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.value == kEmpty) return;
      if (slot.hash == hash && slot.value == value) {
        slot.value = kErased;  // keeps the probe chains behind it intact
        --live_;
        return;
      }
    }
  }

  // Room for n values without a rehash.
  void Reserve(size_t n) {
    if ((n + 1) * 4 > slots_.size() * 3) Rehash(std::bit_ceil(((n + 1) * 4 + 2) / 3));
  }
  size_t size() const { return live_; }
  size_t slot_count() const { return slots_.size(); }  // 16 bytes each
  void Clear() {
    slots_.assign(slots_.size(), Slot{});
    used_ = live_ = 0;
  }

 private:
  static constexpr uint64_t kEmpty = 0;
  static constexpr uint64_t kErased = UINT64_MAX;
  struct Slot {
    uint64_t hash = 0;
    uint64_t value = kEmpty;
  };

  // `count` slots (a power of two; at least 16); erased slots are dropped.
  void Rehash(size_t count) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<size_t>(16, count), Slot{});
    mask_ = slots_.size() - 1;
    used_ = live_ = 0;
    for (const Slot& slot : old) {
      if (slot.value != kEmpty && slot.value != kErased) Insert(slot.hash, slot.value);
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t used_ = 0;  // slots not empty: live and erased
  size_t live_ = 0;
};

}  // namespace vigil
