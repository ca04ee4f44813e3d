// DirLock keeps one process at a time in a data folder, as Prometheus's and leveldb's LOCK
// files do: an exclusive flock on <dir>/LOCK, which also holds the owner's pid for people
// to read. The lock goes with the DirLock (or with the process, however it ends), so a
// killed process never leaves the folder locked.
//
// Thread safety: a value; Acquire from any thread.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"

namespace vigil {

class DirLock {
 public:
  // FailedPrecondition naming the folder and the other process's pid when another open
  // file holds the lock (another process, or another store in this one); Unavailable when
  // the LOCK file cannot be opened.
  static Result<std::unique_ptr<DirLock>> Acquire(const std::string& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace vigil
