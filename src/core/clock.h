// Clock is where vigil reads the time: wall-clock milliseconds since the Unix epoch,
// the unit of every sample timestamp. SystemClock reads the real clock; tests use
// testing::FakeClock and move time by hand instead of sleeping.
//
// Thread safety: implementations are safe to call from any thread.
#pragma once

#include <cstdint>
#include <string>

namespace vigil {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since 1970-01-01T00:00:00Z.
  virtual int64_t NowMillis() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override;
  // The process-wide instance.
  static SystemClock& Get();
};

// "2026-11-22T10:44:58.123Z": RFC 3339 in UTC with milliseconds, as Alertmanager and
// Prometheus's alert API write times.
std::string FormatRfc3339(int64_t ms);

}  // namespace vigil
