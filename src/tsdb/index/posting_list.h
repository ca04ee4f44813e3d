// PostingList holds the ids of the series that carry one label pair, ascending, as
// varint deltas (the first from 0): at a million series a pair shared by 100,000 series
// takes about one byte a series where a vector of ids took eight to ten, and a pair of
// a few series (a host's) stays inside the string's own 15 bytes, with no allocation.
//
// Ids arrive in ascending order almost always (new series get the next id), so Add at
// the end is O(1); an Add in the middle and a Remove rewrite the bytes from there on.
//
// Thread safety: none; the index's owner guards it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vigil::tsdb::index {

class PostingList {
 public:
  // Adds `id` (nonzero); nothing when it is there already.
  void Add(uint64_t id);
  // Removes `id`; nothing when it is not there.
  void Remove(uint64_t id);
  bool empty() const { return bytes_.empty(); }
  // Appends the ids, ascending, to `out`.
  void AppendTo(std::vector<uint64_t>* out) const;
  std::vector<uint64_t> Ids() const {
    std::vector<uint64_t> ids;
    AppendTo(&ids);
    return ids;
  }

 private:
  std::string bytes_;  // varint(first id), varint(second - first), ...
  uint64_t last_ = 0;  // the largest id; 0 when empty
};

}  // namespace vigil::tsdb::index
