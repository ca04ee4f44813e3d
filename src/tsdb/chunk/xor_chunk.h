// Gorilla-compressed chunks (docs/format/chunk.md): up to 120 samples of one series,
// delta-of-delta timestamps and XOR-encoded values. XorAppender builds a chunk in the
// head; DecodeXorChunk reads one back, from the head or from a SQLite row.
//
// Thread safety: an XorAppender belongs to one thread at a time (the store's lock).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/batch.h"

namespace vigil::tsdb::chunk {

inline constexpr uint8_t kXorEncoding = 1;

// Appends samples in strictly increasing time order; the caller enforces the order.
class XorAppender {
 public:
  XorAppender();

  void Append(int64_t timestamp_ms, double value);

  int count() const { return count_; }
  int64_t min_time() const { return first_t_; }
  int64_t max_time() const { return t_; }
  // The whole chunk so far; valid until the next Append.
  std::string_view bytes() const { return buffer_; }

 private:
  void WriteBits(uint64_t bits, int n);
  void WriteBit(bool bit) { WriteBits(bit ? 1 : 0, 1); }
  void WriteVarint(int64_t value);
  void WriteValue(uint64_t bits);

  // A million series keep as many open chunks: the small fields are packed (72 bytes).
  std::string buffer_;
  int64_t first_t_ = 0;
  int64_t t_ = 0;
  int64_t delta_ = 0;
  uint64_t value_bits_ = 0;
  uint16_t count_ = 0;
  uint8_t free_bits_ = 0;   // unused low bits of buffer_.back()
  uint8_t leading_ = 0xFF;  // the current XOR window; 0xFF: none yet
  uint8_t trailing_ = 0;
};

// Appends the chunk's samples to `out`. DataLoss when the bytes are not a valid chunk
// (too short, out of order, wrong count); `out` then holds the samples read before the
// fault.
Status DecodeXorChunk(std::string_view bytes, std::vector<model::Sample>* out);

// The sample count from the header, without decoding (0 for a too-short buffer).
int XorChunkCount(std::string_view bytes);

}  // namespace vigil::tsdb::chunk
