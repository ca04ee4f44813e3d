// TempDir: a fresh folder under the system temp folder for one test, removed with
// everything in it when the TempDir goes out of scope (for stores that need real files,
// like SQLite).
//
// Thread safety: a value; do not share.
#pragma once

#include <string>

namespace vigil::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace vigil::testing
