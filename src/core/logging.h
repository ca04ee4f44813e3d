// Logging for every role: spdlog, one line per event on standard error, UTC timestamps,
// levels trace..critical. Credentials never reach the log: pass URLs through RedactUrl
// (core/url.h) first.
//
// Thread safety: spdlog's default logger is safe from any thread; InitLogging is called
// once at start, before other threads exist.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

#include "core/status.h"

namespace vigil {

// Accepts trace, debug, info, warn, error, critical, off.
Result<spdlog::level::level_enum> ParseLogLevel(std::string_view name);

// Sets the level and the line format of the default logger.
void InitLogging(spdlog::level::level_enum level);

}  // namespace vigil
