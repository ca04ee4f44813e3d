#include "testing/mem_env.h"

#include "core/check.h"

namespace vigil::testing {

class MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(MemEnv* env, std::string path) : env_(env), path_(std::move(path)) {}
  Status Append(std::string_view data) override { return env_->AppendTo(path_, data); }
  Status Flush() override { return env_->CountWrite(path_); }
  Status Sync() override { return env_->SyncFile(path_); }
  Status SyncFlushed() override { return env_->SyncFile(path_); }
  Status Close() override { return OkStatus(); }

 private:
  MemEnv* env_;
  std::string path_;
};

Status MemEnv::CountWrite(const std::string& path) {
  MutexLock lock(mu_);
  ++writes_;
  if (fail_from_ > 0 && writes_ >= fail_from_) {
    return UnavailableError("write " + path + ": injected fault");
  }
  return OkStatus();
}

Status MemEnv::SyncFile(const std::string& path) {
  Status status = CountWrite(path);
  MutexLock lock(mu_);
  std::string& contents = files_[path];
  size_t& synced = synced_[path];
  if (status.ok()) {
    synced = contents.size();
  } else if (contents.size() > synced) {
    contents.resize(synced);  // the unsynced tail is gone, as after a writeback error
  }
  return status;
}

Status MemEnv::AppendTo(const std::string& path, std::string_view data) {
  VIGIL_RETURN_IF_ERROR(CountWrite(path));
  MutexLock lock(mu_);
  if (disk_full_) {
    files_[path].append(data.substr(0, data.size() / 2));  // what fitted
    return UnavailableError("write " + path + ": No space left on device");
  }
  files_[path].append(data);
  return OkStatus();
}

void MemEnv::SetDiskFull(bool full) {
  MutexLock lock(mu_);
  disk_full_ = full;
}

Result<std::unique_ptr<WritableFile>> MemEnv::NewAppendableFile(const std::string& path) {
  MutexLock lock(mu_);
  files_[path];
  return std::unique_ptr<WritableFile>(new MemWritableFile(this, path));
}

Result<std::string> MemEnv::ReadFile(const std::string& path) {
  MutexLock lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return NotFoundError("no file " + path);
  return it->second;
}

bool MemEnv::FileExists(const std::string& path) {
  MutexLock lock(mu_);
  return files_.count(path) > 0;
}

Result<uint64_t> MemEnv::FileSize(const std::string& path) {
  MutexLock lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return NotFoundError("no file " + path);
  return static_cast<uint64_t>(it->second.size());
}

Status MemEnv::RenameFile(const std::string& from, const std::string& to) {
  MutexLock lock(mu_);
  auto it = files_.find(from);
  if (it == files_.end()) return NotFoundError("rename: no file " + from);
  files_[to] = std::move(it->second);
  files_.erase(from);
  synced_[to] = synced_[from];
  synced_.erase(from);
  return OkStatus();
}

Status MemEnv::DeleteFile(const std::string& path) {
  MutexLock lock(mu_);
  synced_.erase(path);
  if (files_.erase(path) == 0) return NotFoundError("delete: no file " + path);
  return OkStatus();
}

Status MemEnv::CreateDirs(const std::string&) { return OkStatus(); }

Result<std::vector<std::string>> MemEnv::Children(const std::string& path) {
  MutexLock lock(mu_);
  std::string prefix = path.empty() || path.back() == '/' ? path : path + "/";
  std::vector<std::string> names;
  for (const auto& [name, contents] : files_) {
    if (name.compare(0, prefix.size(), prefix) == 0 &&
        name.find('/', prefix.size()) == std::string::npos) {
      names.push_back(name.substr(prefix.size()));
    }
  }
  return names;
}

Status MemEnv::TruncateFile(const std::string& path, uint64_t size) {
  VIGIL_RETURN_IF_ERROR(CountWrite(path));
  MutexLock lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return NotFoundError("truncate: no file " + path);
  if (size < it->second.size()) it->second.resize(size);
  synced_[path] = std::min<size_t>(synced_[path], it->second.size());
  return OkStatus();
}

Status MemEnv::SyncDir(const std::string& path) { return CountWrite(path); }

std::string& MemEnv::Contents(const std::string& path) {
  MutexLock lock(mu_);
  auto it = files_.find(path);
  VIGIL_CHECK(it != files_.end(), "no such file");
  return it->second;
}

void MemEnv::FailWritesFrom(int n) {
  MutexLock lock(mu_);
  fail_from_ = writes_ + n;
}

void MemEnv::ClearFaults() {
  MutexLock lock(mu_);
  fail_from_ = 0;
}

int MemEnv::write_count() const {
  MutexLock lock(mu_);
  return writes_;
}

}  // namespace vigil::testing
