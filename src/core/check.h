// VIGIL_CHECK stops the process when an invariant of our own code is broken (a bug),
// printing where and why. Expected failures use Status instead (core/status.h).
//
// Thread safety: may be called from any thread.
#pragma once

#include <string_view>

namespace vigil {
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition,
                              std::string_view message);
}  // namespace vigil

#define VIGIL_CHECK(condition, message)                                              \
  do {                                                                               \
    if (!(condition)) ::vigil::CheckFailed(__FILE__, __LINE__, #condition, message); \
  } while (0)
