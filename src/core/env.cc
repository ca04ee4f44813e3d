#include "core/env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace vigil {
namespace {

Status PosixError(const std::string& context, int error_number) {
  std::string message = context + ": " + std::strerror(error_number);
  if (error_number == ENOENT) return NotFoundError(std::move(message));
  return UnavailableError(std::move(message));
}

// Buffers small appends and writes them with write(2); Sync is fdatasync(2).
class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override { (void)Close(); }

  Status Append(std::string_view data) override {
    if (buffer_.size() + data.size() > kBufferSize) VIGIL_RETURN_IF_ERROR(Flush());
    if (data.size() > kBufferSize) return WriteAll(data);
    buffer_.append(data);
    return OkStatus();
  }

  Status Flush() override {
    Status status = WriteAll(buffer_);
    buffer_.clear();
    return status;
  }

  Status Sync() override {
    VIGIL_RETURN_IF_ERROR(Flush());
    return SyncFlushed();
  }

  Status SyncFlushed() override {
    if (::fdatasync(fd_) != 0) return PosixError("sync " + path_, errno);
    return OkStatus();
  }

  Status Close() override {
    if (fd_ < 0) return OkStatus();
    Status status = Flush();
    if (::close(fd_) != 0 && status.ok()) status = PosixError("close " + path_, errno);
    fd_ = -1;
    return status;
  }

 private:
  static constexpr size_t kBufferSize = 64 * 1024;

  Status WriteAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return PosixError("write " + path_, errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return OkStatus();
  }

  std::string path_;
  int fd_;
  std::string buffer_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError("open " + path, errno);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd));
  }

  Result<std::string> ReadFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("open " + path, errno);
    // Sized once from fstat (a log segment is tens of MB), with a page to spare so that
    // the read that finds the end needs no growth (doubling 64 MB to find nothing more
    // cost a third of a log replay's page faults); read until the end, in case the file
    // grew meanwhile.
    struct stat st;
    std::string contents;
    if (::fstat(fd, &st) == 0) contents.resize(static_cast<size_t>(st.st_size) + 4096);
    size_t size = 0;
    while (true) {
      if (size == contents.size()) contents.resize(std::max<size_t>(4096, contents.size() * 2));
      const ssize_t n = ::read(fd, contents.data() + size, contents.size() - size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int error = errno;
        ::close(fd);
        return PosixError("read " + path, error);
      }
      if (n == 0) break;
      size += static_cast<size_t>(n);
    }
    ::close(fd);
    contents.resize(size);
    return contents;
  }

  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Result<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat " + path, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return PosixError("rename " + from, errno);
    return OkStatus();
  }

  Status DeleteFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError("delete " + path, errno);
    return OkStatus();
  }

  Status CreateDirs(const std::string& path) override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return UnavailableError("create folder " + path + ": " + ec.message());
    return OkStatus();
  }

  Result<std::vector<std::string>> Children(const std::string& path) override {
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
      names.push_back(entry.path().filename().string());
    }
    if (ec) return UnavailableError("list folder " + path + ": " + ec.message());
    return names;
  }

  Status TruncateFile(const std::string& path, uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
      return PosixError("truncate " + path, errno);
    }
    return OkStatus();
  }

  Status SyncDir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError("open folder " + path, errno);
    Status status;
    if (::fsync(fd) != 0) status = PosixError("sync folder " + path, errno);
    ::close(fd);
    return status;
  }
};

}  // namespace

Env& Env::Default() {
  static PosixEnv env;
  return env;
}

}  // namespace vigil
