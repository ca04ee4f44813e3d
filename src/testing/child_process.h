// ChildProcess: a program the test starts (node_exporter, openssl s_server, the vigil
// binary) with its output in a log file, stopped by its PID when the test is done —
// SIGTERM, then SIGKILL after a grace period. FreeLoopbackPort finds a port to give it.
//
// Thread safety: one thread at a time.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace vigil::testing {

class ChildProcess {
 public:
  // Starts argv[0] (looked up in PATH) with stdout and stderr appended to `log_path`.
  static Result<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                     const std::string& log_path);
  // Stops it if still running.
  ~ChildProcess();

  // SIGTERM, wait up to `grace_ms`, then SIGKILL. Returns the exit status (as waitpid's).
  int Stop(int grace_ms = 3000);
  pid_t pid() const { return pid_; }

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
  int status_ = 0;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
uint16_t FreeLoopbackPort();
// Waits until something accepts connections on 127.0.0.1:port; false after `timeout_ms`.
bool WaitForPort(uint16_t port, int timeout_ms = 10'000);

}  // namespace vigil::testing
