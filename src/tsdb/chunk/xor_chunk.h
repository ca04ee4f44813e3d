// Gorilla-compressed chunks (docs/format/chunk.md): up to 120 samples of one series,
// delta-of-delta timestamps and XOR-encoded values. XorAppender builds a chunk in the
// head; DecodeXorChunk reads one back, from the head or from a SQLite row.
//
// Thread safety: an XorAppender belongs to one thread at a time (the store's lock).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/batch.h"

namespace vigil::tsdb::chunk {

inline constexpr uint8_t kXorEncoding = 1;

// Appends samples in strictly increasing time order; the caller enforces the order, and
// that a chunk spans at most kMaxSpanMs. An appender without samples holds no memory;
// Reset makes it so again, Cut too but keeps max_time().
class XorAppender {
 public:
  XorAppender() = default;
  XorAppender(XorAppender&& other) noexcept;
  XorAppender& operator=(XorAppender&& other) noexcept;
  ~XorAppender() { std::free(data_); }

  void Append(int64_t timestamp_ms, double value);
  void Reset() { *this = XorAppender(); }
  // Ends the chunk: its bytes are freed and count() is 0, max_time() stays. A series' open
  // chunk is cut this way, and its newest time is still known.
  void Cut() { *this = XorAppender(t_); }

  // At most this many samples (their bytes then fit the 16-bit sizes below).
  static constexpr int kMaxSamples = 2048;
  // From a chunk's first sample to its last at most this (24.8 days; the store's chunks
  // end at a block's end, 2 h): the last delta is kept in 32 bits.
  static constexpr int64_t kMaxSpanMs = INT32_MAX;

  int count() const { return count_; }
  int64_t min_time() const;  // read from the chunk's header
  // The newest sample's time: of this chunk, or of the chunks before the last Cut, or as
  // set by set_max_time (INT64_MIN when none).
  int64_t max_time() const { return t_; }
  // Only while count() is 0.
  void set_max_time(int64_t t);
  // The whole chunk so far (empty before the first sample); valid until the next Append.
  std::string_view bytes() const { return {data_, size_}; }

 private:
  explicit XorAppender(int64_t max_time) : t_(max_time) {}
  void Grow(uint32_t bytes);  // room for `bytes` more
  void WriteBits(uint64_t bits, int n);
  void WriteBit(bool bit) { WriteBits(bit ? 1 : 0, 1); }
  void WriteVarint(int64_t value);
  void WriteValue(uint64_t bits);

  // A million series keep as many open chunks, so the buffer is a bare malloc block
  // (grown by an eighth, to the allocator's size classes), the first timestamp is read from
  // it, and the small fields are packed: 36 bytes in all, the last 4 of a 40-byte object
  // free for the owner's next field ([[no_unique_address]]). kMaxSamples samples take at
  // most 2 + 10 + 8 + 2047 × (68 + 77) bits, 37 KB: sizes fit 16 bits.
  static constexpr uint16_t kNoWindow = 63;  // leading_ before the first XOR window
  char* data_ = nullptr;
  int64_t t_ = INT64_MIN;
  uint64_t value_bits_ = 0;
  int32_t delta_ = 0;
  uint16_t size_ = 0;
  uint16_t capacity_ = 0;
  uint16_t count_ = 0;
  uint16_t free_bits_ : 3 = 0;        // unused low bits of the last byte
  uint16_t leading_ : 6 = kNoWindow;  // the current XOR window
  uint16_t trailing_ : 6 = 0;
};

// Appends the chunk's samples to `out`. DataLoss when the bytes are not a valid chunk
// (too short, out of order, wrong count); `out` then holds the samples read before the
// fault.
Status DecodeXorChunk(std::string_view bytes, std::vector<model::Sample>* out);

// The sample count from the header, without decoding (0 for a too-short buffer).
int XorChunkCount(std::string_view bytes);

}  // namespace vigil::tsdb::chunk
