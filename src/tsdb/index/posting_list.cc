#include "tsdb/index/posting_list.h"

#include <string_view>

#include "core/check.h"
#include "tsdb/varint.h"

namespace vigil::tsdb::index {
namespace {

std::string Varint(uint64_t v) {
  std::string out;
  PutVarint(&out, v);
  return out;
}

// Walks the list: at each entry, `begin` and `end` are the offsets of its varint in the
// bytes, `before` the id before it (0 for the first) and `id` its own.
class Cursor {
 public:
  explicit Cursor(std::string_view bytes) : bytes_(bytes), rest_(bytes) {}
  bool Next() {
    begin = bytes_.size() - rest_.size();
    uint64_t delta = 0;
    if (!TakeVarint(&rest_, &delta)) return false;
    end = bytes_.size() - rest_.size();
    before = id;
    id += delta;
    return true;
  }
  size_t begin = 0;
  size_t end = 0;
  uint64_t before = 0;
  uint64_t id = 0;

 private:
  std::string_view bytes_;
  std::string_view rest_;
};

}  // namespace

void PostingList::Add(uint64_t id) {
  VIGIL_CHECK(id != 0, "series id 0");
  if (id > last_) {
    PutVarint(&bytes_, id - last_);
    last_ = id;
    return;
  }
  // Between two entries: the one after it now counts from `id`.
  Cursor at(bytes_);
  while (at.Next()) {
    if (at.id == id) return;
    if (at.id > id) {
      bytes_.replace(at.begin, at.end - at.begin, Varint(id - at.before) + Varint(at.id - id));
      return;
    }
  }
}

void PostingList::Remove(uint64_t id) {
  if (id == 0 || id > last_) return;
  Cursor at(bytes_);
  while (at.Next()) {
    if (at.id > id) return;
    if (at.id < id) continue;
    const size_t begin = at.begin;
    const uint64_t before = at.before;
    if (!at.Next()) {  // the last: the one before is the largest now
      bytes_.erase(begin);
      last_ = before;
      return;
    }
    // The entry after it now counts from the one before.
    bytes_.replace(begin, at.end - begin, Varint(at.id - before));
    return;
  }
}

void PostingList::AppendTo(std::vector<uint64_t>* out) const {
  out->reserve(out->size() + bytes_.size());  // a byte an id at least
  std::string_view rest = bytes_;
  uint64_t id = 0;
  uint64_t delta = 0;
  while (TakeVarint(&rest, &delta)) out->push_back(id += delta);
}

}  // namespace vigil::tsdb::index
