// MemEnv: an Env whose files live in memory, with fault injection (leveldb's test
// idea): FailWritesFrom(n) makes the nth write operation from now (Append, Flush, Sync)
// and every one after it fail, until ClearFaults. A failed Sync drops the bytes written
// to that file since its last successful one, as Linux may after a writeback error.
// SetDiskFull makes appends fail part-way, as a full disk does.
// Folders exist implicitly.
//
// Thread safety: any thread.
#pragma once

#include <map>

#include "core/env.h"
#include "core/mutex.h"

namespace vigil::testing {

class MemEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override;
  Result<std::string> ReadFile(const std::string& path) override;
  bool FileExists(const std::string& path) override;
  Result<uint64_t> FileSize(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status DeleteFile(const std::string& path) override;
  Status CreateDirs(const std::string& path) override;
  Result<std::vector<std::string>> Children(const std::string& path) override;
  Status TruncateFile(const std::string& path, uint64_t size) override;
  Status SyncDir(const std::string& path) override;
  // Test access to a file's bytes (to corrupt them); the file must exist.
  std::string& Contents(const std::string& path);

  // n = 1: the next write fails.
  void FailWritesFrom(int n);
  void ClearFaults();
  // While full, each append writes half its bytes and fails (ENOSPC); truncating works.
  void SetDiskFull(bool full);
  // Write operations attempted so far (failed ones included).
  int write_count() const;

 private:
  friend class MemWritableFile;
  // Counts a write; returns Unavailable when a fault is due.
  Status CountWrite(const std::string& path);
  Status AppendTo(const std::string& path, std::string_view data);
  Status SyncFile(const std::string& path);

  mutable Mutex mu_;
  std::map<std::string, std::string> files_ VIGIL_GUARDED_BY(mu_);
  std::map<std::string, size_t> synced_ VIGIL_GUARDED_BY(mu_);  // bytes of each file known durable
  int writes_ VIGIL_GUARDED_BY(mu_) = 0;
  int fail_from_ VIGIL_GUARDED_BY(mu_) = 0;  // 0: no fault
  bool disk_full_ VIGIL_GUARDED_BY(mu_) = false;
};

}  // namespace vigil::testing
