#include "tsdb/chunk/xor_chunk.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <utility>

#include "core/check.h"

namespace vigil::tsdb::chunk {
namespace {

constexpr int kHeaderBytes = 2;

uint64_t DoubleBits(double v) { return std::bit_cast<uint64_t>(v); }

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

bool FitsSigned(int64_t v, int bits) {
  const int64_t limit = int64_t{1} << (bits - 1);
  return v >= -limit && v < limit;
}

// Reads the bit stream written by XorAppender, a 64-bit word at a time; a read past the
// end sets failed().
class BitReader {
 public:
  explicit BitReader(std::string_view data) : data_(data), size_bits_(data.size() * 8) {}

  // The next n bits (0 <= n <= 64), most significant first.
  uint64_t ReadBits(int n) {
    if (n == 0) return 0;
    if (position_ + static_cast<size_t>(n) > size_bits_) {
      failed_ = true;
      position_ = size_bits_;
      return 0;
    }
    const size_t byte = position_ >> 3;
    const int shift = static_cast<int>(position_ & 7);
    uint64_t word = Load(byte) << shift;  // 64 - shift bits of the stream, left-aligned
    if (shift + n > 64) word |= Byte(byte + 8) >> (8 - shift);
    position_ += static_cast<size_t>(n);
    return word >> (64 - n);
  }
  bool ReadBit() {
    if (position_ >= size_bits_) {
      failed_ = true;
      return false;
    }
    const bool bit = (Byte(position_ >> 3) >> (7 - (position_ & 7))) & 1;
    ++position_;
    return bit;
  }

  uint64_t ReadVarint() {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint64_t byte = ReadBits(8);
      result |= (byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return result;
    }
    failed_ = true;
    return 0;
  }

  int64_t ReadSigned(int n) {
    const uint64_t raw = ReadBits(n);
    const int shift = 64 - n;
    return static_cast<int64_t>(raw << shift) >> shift;
  }

  bool failed() const { return failed_; }

 private:
  uint64_t Byte(size_t i) const { return i < data_.size() ? static_cast<uint8_t>(data_[i]) : 0; }
  // Eight bytes from `byte` as a big-endian word, zeros past the end.
  uint64_t Load(size_t byte) const {
    if (byte + 8 <= data_.size()) {
      uint64_t word;
      std::memcpy(&word, data_.data() + byte, 8);
      return std::endian::native == std::endian::little ? __builtin_bswap64(word) : word;
    }
    uint64_t word = 0;
    for (size_t i = 0; i < 8; ++i) word = (word << 8) | Byte(byte + i);
    return word;
  }

  std::string_view data_;
  size_t size_bits_;
  size_t position_ = 0;
  bool failed_ = false;
};

}  // namespace

XorAppender::XorAppender(XorAppender&& other) noexcept { *this = std::move(other); }

XorAppender& XorAppender::operator=(XorAppender&& other) noexcept {
  if (this == &other) return *this;
  std::free(data_);
  data_ = std::exchange(other.data_, nullptr);
  size_ = std::exchange(other.size_, 0);
  capacity_ = std::exchange(other.capacity_, 0);
  count_ = std::exchange(other.count_, 0);
  t_ = other.t_;
  delta_ = other.delta_;
  value_bits_ = other.value_bits_;
  free_bits_ = other.free_bits_;
  leading_ = other.leading_;
  other.leading_ = kNoWindow;
  trailing_ = other.trailing_;
  return *this;
}

void XorAppender::set_max_time(int64_t t) {
  VIGIL_CHECK(count_ == 0, "max_time set on a chunk with samples");
  t_ = t;
}

int64_t XorAppender::min_time() const {
  if (count_ == 0) return 0;
  // The first timestamp is the varint after the header, written byte-aligned.
  uint64_t zigzag = 0;
  for (int i = kHeaderBytes, shift = 0;; ++i, shift += 7) {
    const auto byte = static_cast<uint8_t>(data_[i]);
    zigzag |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if (byte < 0x80) return UnZigZag(zigzag);
  }
}

void XorAppender::Grow(uint32_t bytes) {
  if (size_ + bytes <= capacity_) return;
  // An eighth again, at least 24 bytes, rounded to what glibc's chunk of that size holds
  // (16-byte steps less its 8-byte header), so that no byte of the block is wasted. A
  // million open chunks hold their slack: growing by half instead kept 16 bytes more a
  // series at 11 samples and 23 at 120, for 6 fewer reallocs a chunk of 120 samples.
  uint32_t want = std::max<uint32_t>({size_ + bytes, capacity_ + capacity_ / 8u, 24u});
  want = std::min<uint32_t>((want + 8 + 15) / 16 * 16 - 8, UINT16_MAX);
  VIGIL_CHECK(size_ + bytes <= want, "chunk too large");
  auto* grown = static_cast<char*>(std::realloc(data_, want));
  VIGIL_CHECK(grown != nullptr, "out of memory");
  data_ = grown;
  capacity_ = want;
}

void XorAppender::WriteBits(uint64_t bits, int n) {
  // n in [1, 64]: top up the last byte, then whole bytes, then a partial one.
  if (n < 64) bits &= (uint64_t{1} << n) - 1;
  if (free_bits_ > 0) {
    const int take = n < free_bits_ ? n : free_bits_;
    const auto chunk = static_cast<uint8_t>(bits >> (n - take));
    char& last = data_[size_ - 1];
    last = static_cast<char>(static_cast<uint8_t>(last) | (chunk << (free_bits_ - take)));
    free_bits_ = static_cast<uint16_t>(free_bits_ - take);
    n -= take;
    if (n == 0) return;
    bits &= (uint64_t{1} << n) - 1;
  }
  char bytes[9];
  int count = 0;
  while (n >= 8) {
    n -= 8;
    bytes[count++] = static_cast<char>(static_cast<uint8_t>(bits >> n));
  }
  if (n > 0) {
    bytes[count++] = static_cast<char>(static_cast<uint8_t>(bits << (8 - n)));
    free_bits_ = static_cast<uint16_t>(8 - n);
  }
  Grow(static_cast<uint32_t>(count));
  std::memcpy(data_ + size_, bytes, static_cast<size_t>(count));
  size_ = static_cast<uint16_t>(size_ + count);
}

void XorAppender::WriteVarint(int64_t value) {
  uint64_t v = ZigZag(value);
  while (v >= 0x80) {
    WriteBits((v & 0x7F) | 0x80, 8);
    v >>= 7;
  }
  WriteBits(v, 8);
}

void XorAppender::WriteValue(uint64_t bits) {
  const uint64_t x = bits ^ value_bits_;
  value_bits_ = bits;
  if (x == 0) {
    WriteBit(false);
    return;
  }
  int leading = std::countl_zero(x);
  const int trailing = std::countr_zero(x);
  if (leading > 31) leading = 31;
  if (leading_ != kNoWindow && leading >= leading_ && trailing >= trailing_) {
    WriteBits(0b10, 2);
    WriteBits(x >> trailing_, 64 - leading_ - trailing_);
    return;
  }
  leading_ = static_cast<uint16_t>(leading);
  trailing_ = static_cast<uint16_t>(trailing);
  const int significant = 64 - leading - trailing;
  WriteBits(0b11, 2);
  WriteBits(static_cast<uint64_t>(leading), 5);
  WriteBits(static_cast<uint64_t>(significant & 63), 6);
  WriteBits(x >> trailing, significant);
}

void XorAppender::Append(int64_t timestamp_ms, double value) {
  VIGIL_CHECK(count_ < kMaxSamples, "chunk full");
  const uint64_t bits = DoubleBits(value);
  if (count_ == 0) {
    Grow(kHeaderBytes);
    size_ = kHeaderBytes;
    free_bits_ = 0;
    WriteVarint(timestamp_ms);
    WriteBits(bits, 64);
    value_bits_ = bits;
  } else {
    VIGIL_CHECK(timestamp_ms > t_, "chunk timestamps must increase");
    VIGIL_CHECK(timestamp_ms - t_ <= kMaxSpanMs, "chunk spans more than kMaxSpanMs");
    const auto delta = static_cast<int32_t>(timestamp_ms - t_);
    if (count_ == 1) {
      WriteVarint(delta);
    } else if (const int64_t dod = int64_t{delta} - delta_; dod == 0) {
      WriteBit(false);
    } else if (FitsSigned(dod, 14)) {
      WriteBits(0b10, 2);
      WriteBits(static_cast<uint64_t>(dod), 14);
    } else if (FitsSigned(dod, 17)) {
      WriteBits(0b110, 3);
      WriteBits(static_cast<uint64_t>(dod), 17);
    } else if (FitsSigned(dod, 20)) {
      WriteBits(0b1110, 4);
      WriteBits(static_cast<uint64_t>(dod), 20);
    } else {
      WriteBits(0b1111, 4);
      WriteBits(static_cast<uint64_t>(dod), 64);
    }
    delta_ = delta;
    WriteValue(bits);
  }
  t_ = timestamp_ms;
  ++count_;
  data_[0] = static_cast<char>(count_ >> 8);
  data_[1] = static_cast<char>(count_ & 0xFF);
}

int XorChunkCount(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes) return 0;
  return (static_cast<uint8_t>(bytes[0]) << 8) | static_cast<uint8_t>(bytes[1]);
}

Status DecodeXorChunk(std::string_view bytes, std::vector<model::Sample>* out) {
  const int count = XorChunkCount(bytes);
  if (count == 0) return DataLossError("chunk: empty or shorter than its header");
  BitReader in(bytes.substr(kHeaderBytes));
  out->reserve(out->size() + static_cast<size_t>(count));

  int64_t t = UnZigZag(in.ReadVarint());
  uint64_t value_bits = in.ReadBits(64);
  if (in.failed()) return DataLossError("chunk: truncated first sample");
  out->push_back({t, std::bit_cast<double>(value_bits)});

  int64_t delta = 0;
  int leading = 0;
  int trailing = 0;
  for (int i = 1; i < count; ++i) {
    if (i == 1) {
      delta = UnZigZag(in.ReadVarint());
    } else {
      int64_t dod = 0;
      if (in.ReadBit()) {
        if (!in.ReadBit()) {
          dod = in.ReadSigned(14);
        } else if (!in.ReadBit()) {
          dod = in.ReadSigned(17);
        } else if (!in.ReadBit()) {
          dod = in.ReadSigned(20);
        } else {
          dod = static_cast<int64_t>(in.ReadBits(64));
        }
      }
      // Wrapping arithmetic: garbage input must not be undefined behaviour.
      delta = static_cast<int64_t>(static_cast<uint64_t>(delta) + static_cast<uint64_t>(dod));
    }
    if (in.ReadBit()) {
      if (in.ReadBit()) {
        leading = static_cast<int>(in.ReadBits(5));
        int significant = static_cast<int>(in.ReadBits(6));
        if (significant == 0) significant = 64;
        trailing = 64 - leading - significant;
        if (trailing < 0)
          return DataLossError("chunk: bad XOR window at sample " + std::to_string(i));
      }
      const int significant = 64 - leading - trailing;
      value_bits ^= in.ReadBits(significant) << trailing;
    }
    if (in.failed()) return DataLossError("chunk: truncated at sample " + std::to_string(i));
    if (delta <= 0)
      return DataLossError("chunk: timestamps out of order at sample " + std::to_string(i));
    if (__builtin_add_overflow(t, delta, &t)) {
      return DataLossError("chunk: timestamp overflow at sample " + std::to_string(i));
    }
    out->push_back({t, std::bit_cast<double>(value_bits)});
  }
  return OkStatus();
}

}  // namespace vigil::tsdb::chunk
