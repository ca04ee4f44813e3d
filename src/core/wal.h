// The write-ahead log of the embedded store (docs/format/wal.md): numbered segment
// files of length + CRC-32C framed records. WalWriter appends and syncs; ReplayWal reads
// every record back at start, truncating a torn tail and skipping damaged bytes, so that
// a crash never stops the store from opening. Records are opaque bytes here; the store
// defines what they hold (tsdb/wal_record.h); the spool reuses it for its outbox.
//
// Thread safety: a WalWriter belongs to one thread at a time (the store's lock), except
// SyncThrough and sync_failures, which any thread may call: writers share fdatasyncs
// (group commit) without holding the owner's lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/env.h"
#include "core/mutex.h"
#include "core/status.h"

namespace vigil::wal {

enum class FsyncPolicy { kAlways, kInterval };

struct WalOptions {
  uint64_t segment_bytes = 64ull << 20;
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  // With kInterval: an Append syncs when the last sync is older than this.
  std::chrono::milliseconds fsync_interval{1000};
};

struct ReplayStats {
  uint64_t records = 0;
  uint64_t bytes = 0;
  int torn_tails = 0;               // segments cut at a bad record: the newest, or one cut short
  int corrupt_segments = 0;         // older segments with a bad record (rest skipped)
  std::vector<std::string> errors;  // one line per fault, for the log
};

// Names of the segments in `dir`, as sequence numbers, ascending. Other files are ignored.
Result<std::vector<uint64_t>> ListSegments(Env& env, const std::string& dir);
std::string SegmentPath(const std::string& dir, uint64_t sequence);

// Calls `fn(segment, record)` for every good record in order. A torn tail in the newest
// segment is truncated; damage elsewhere is skipped and reported in `stats`. Returns an
// error only when a file cannot be read or `fn` fails.
Status ReplayWal(Env& env, const std::string& dir,
                 const std::function<Status(uint64_t segment, std::string_view record)>& fn,
                 ReplayStats* stats);

// ReplayWal's work on one segment: `newest` says whether a bad record is a torn tail (cut)
// or damage (the rest skipped). For readers that take a log apart one segment at a time.
Status ReadSegment(Env& env, const std::string& dir, uint64_t segment, bool newest,
                   const std::function<Status(uint64_t segment, std::string_view record)>& fn,
                   ReplayStats* stats);

class WalWriter {
 public:
  // Starts a new segment after the newest one in `dir` (creating `dir`).
  static Result<std::unique_ptr<WalWriter>> Open(Env& env, std::string dir, WalOptions options,
                                                 Clock& clock);
  ~WalWriter();

  // Writes one record, then syncs per the policy. On error the record may be partly
  // written (or even whole: a failed sync): the caller treats the append as failed and
  // may retry; the next Append starts a new segment, so the partial bytes stay at the
  // end of an old one, where replay skips them.
  Status Append(std::string_view record);
  // Append without the kAlways sync: the record is handed to the operating system and
  // the caller makes it durable with SyncThrough(written()) before relying on it.
  Status Write(std::string_view record);
  // The log position after the last record written: bytes over all segments.
  uint64_t written() const;
  // Makes the log durable at least through `position` (a written() value). One
  // fdatasync covers everything written by the time it starts, so callers waiting
  // together share it. When a sync fails, every byte not known durable counts as lost:
  // callers waiting for those bytes get the error, sync_failures() goes up, and the
  // next write starts a new segment.
  Status SyncThrough(uint64_t position);
  uint64_t sync_failures() const { return sync_failures_.load(); }
  // Declares everything written so far durable by other means (the store persisted it
  // elsewhere after a failed sync): callers waiting for those bytes succeed.
  void MarkWrittenDurable();
  // Hands everything to the disk now.
  Status Sync() { return SyncThrough(written()); }
  // With kInterval: syncs when the last sync is older than the interval. With kAlways:
  // nothing to do (every Append synced).
  Status SyncIfDue();
  // Closes the current segment (synced) and starts the next one.
  Status StartNextSegment() { return StartSegment(segment_ + 1); }

  // The segment the last record went to. The next Append may start segment
  // current_segment() + 1 first (the current one is full, or a write failed);
  // NextRecordSegment() says which it will be.
  uint64_t current_segment() const { return segment_; }
  uint64_t NextRecordSegment() const {
    return segment_size_ >= options_.segment_bytes || failed_.load() ? segment_ + 1 : segment_;
  }
  // The oldest segment still on disk (the current one when there is no other).
  uint64_t oldest_segment() const { return segments_.empty() ? segment_ : segments_.front().first; }
  // Deletes every segment with a sequence number below `sequence` (never the current).
  Status DeleteSegmentsBefore(uint64_t sequence);
  // Bytes in all live segments.
  uint64_t total_bytes() const { return total_bytes_; }
  const std::string& dir() const { return dir_; }

 private:
  WalWriter(Env& env, std::string dir, WalOptions options, Clock& clock)
      : env_(env), dir_(std::move(dir)), options_(options), clock_(clock) {}
  Status StartSegment(uint64_t sequence);

  Env& env_;
  std::string dir_;
  WalOptions options_;
  Clock& clock_;
  uint64_t segment_ = 0;
  uint64_t segment_size_ = 0;
  uint64_t total_bytes_ = 0;
  std::vector<std::pair<uint64_t, uint64_t>> segments_;  // (sequence, bytes), older ones
  std::atomic<int64_t> last_sync_ms_{0};
  // The last write or sync failed: start a new segment before the next write.
  std::atomic<bool> failed_{false};
  std::string frame_;

  mutable Mutex state_mu_;              // guards file_ and written_ for SyncThrough
  std::shared_ptr<WritableFile> file_;  // the owner reads it unlocked
  uint64_t written_ = 0;                // the owner reads it unlocked

  Mutex sync_mu_;  // one fdatasync at a time; guards durable_ and the lost range
  uint64_t durable_ VIGIL_GUARDED_BY(sync_mu_) = 0;
  uint64_t lost_through_ VIGIL_GUARDED_BY(sync_mu_) = 0;  // positions up to here failed to sync
  Status lost_status_ VIGIL_GUARDED_BY(sync_mu_);
  std::atomic<uint64_t> sync_failures_{0};
};

}  // namespace vigil::wal
