// Base-128 varints as the store's formats write them (docs/format/wal.md, block.md): 7
// bits a byte, least significant group first, the high bit set on every byte but the
// last.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::tsdb {

inline void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Takes a varint from the front of `*in`; false when the bytes end first or it runs past
// 64 bits.
inline bool TakeVarint(std::string_view* in, uint64_t* out) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) {
      *out = result;
      return true;
    }
  }
  return false;
}

}  // namespace vigil::tsdb
