// RunShell: runs a command line through /bin/sh for tests that drive outside tools
// (openssl, curl, promtool) and returns its exit code and its stdout and stderr together.
//
// Thread safety: a function; each call its own process.
#pragma once

#include <string>

namespace vigil::testing {

struct ShellResult {
  int exit_code = -1;  // -1 when the command did not exit normally
  std::string output;  // stdout and stderr together
};

ShellResult RunShell(const std::string& command_line);

}  // namespace vigil::testing
