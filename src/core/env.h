// Env is the file-system seam (leveldb's idea): every module that writes files (the
// JSON-lines sink, and later the WAL and the spool) goes through it, so tests can swap
// PosixEnv for testing::MemEnv and inject a failure at the Nth write.
//
// Thread safety: Env methods may be called from any thread; a WritableFile belongs to
// one thread at a time, except SyncFlushed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace vigil {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  // Hands buffered bytes to the operating system.
  virtual Status Flush() = 0;
  // Flushes and waits until the bytes are on stable storage.
  virtual Status Sync() = 0;
  // Waits until the bytes already flushed are on stable storage. May run on another
  // thread while the owner appends (a log's group commit), never beside Close.
  virtual Status SyncFlushed() = 0;
  virtual Status Close() = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // Opens `path` for writing at its end, creating it if absent.
  virtual Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) = 0;
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  // Replaces `to` if it exists.
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual Status DeleteFile(const std::string& path) = 0;
  // Creates the folder and its missing parents; an existing folder is fine.
  virtual Status CreateDirs(const std::string& path) = 0;
  // Names (not paths) of the entries of a folder.
  virtual Result<std::vector<std::string>> Children(const std::string& path) = 0;
  // Cuts the file to `size` bytes (a torn log tail).
  virtual Status TruncateFile(const std::string& path, uint64_t size) = 0;
  // Makes the folder's entries (files created, renamed, deleted) durable.
  virtual Status SyncDir(const std::string& path) = 0;

  // The process-wide PosixEnv.
  static Env& Default();
};

}  // namespace vigil
