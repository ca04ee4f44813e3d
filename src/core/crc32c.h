// CRC-32C (Castagnoli), the checksum of every write-ahead-log record, spool record and
// persisted chunk. Uses the SSE4.2 crc32 instruction when the CPU has it, a table
// otherwise; both give the same value (RFC 3720's polynomial 0x1EDC6F41).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

namespace vigil::crc32c {

// Continues `crc` (the value returned for the bytes before) over `data`.
uint32_t Extend(uint32_t crc, std::string_view data);
inline uint32_t Value(std::string_view data) { return Extend(0, data); }

}  // namespace vigil::crc32c
