// The JSON-lines file sink: one event per line, so `tail -f` and `jq` read it.
// A sample is {"kind":"sample","labels":{...},"timestamp_ms":N,"value":X} (non-finite
// values as "NaN", "+Inf", "-Inf"; a stale marker, which ends a series and is no reading,
// is not written). When the file reaches max_bytes it is rotated:
// events.jsonl -> events.jsonl.1 -> ... -> events.jsonl.<keep>, the oldest deleted; with
// `compress`, rotated files are gzip files events.jsonl.1.gz … (compressed at rotation,
// on the writer's thread, with zlib's fastest level).
// docs/configuration.md ([sink]).
//
// Thread safety: one thread at a time.
#pragma once

#include <memory>
#include <string>

#include "core/env.h"
#include "store/batch_writer.h"

namespace vigil::store {

class JsonLinesSink final : public BatchWriter {
 public:
  struct Options {
    std::string dir = "./data";
    std::string file_name = "events.jsonl";
    uint64_t max_bytes = 64 << 20;
    int keep = 5;  // rotated files kept besides the current one
    // Sync to disk on every Flush; off, Flush only hands the bytes to the OS.
    bool sync = false;
    bool compress = false;  // gzip rotated files
  };

  // Creates the folder if needed and opens the file for appending.
  static Result<std::unique_ptr<JsonLinesSink>> Open(Env& env, Options options);

  Status Append(const model::Batch& batch) override;
  Status Flush() override;
  const std::string& path() const { return path_; }

 private:
  JsonLinesSink(Env& env, Options options, std::unique_ptr<WritableFile> file, uint64_t size);
  Status Rotate();
  std::string Rotated(int n) const;

  Env& env_;
  Options options_;
  std::string path_;
  std::unique_ptr<WritableFile> file_;
  uint64_t size_;
};

// `data` as a gzip file (RFC 1952), zlib's fastest level.
Result<std::string> Gzip(std::string_view data);

// The line for one sample, without the newline.
std::string SampleEventJson(const model::Labels& labels, const model::Sample& sample);

}  // namespace vigil::store
