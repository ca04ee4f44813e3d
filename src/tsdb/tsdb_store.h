// TsdbStore is vigil's embedded time-series store, the default of the standalone and of
// a datamanager without PostgreSQL. An Append is checked (duplicates and samples older
// than the out-of-order window are dropped and counted), written to the write-ahead log
// (fsynced per policy), then added to the head: one open Gorilla chunk per series plus a
// sorted buffer of out-of-order samples. Chunks close at 120 samples or at a chunk-range
// boundary and are written, many per SQLite transaction, to the chunk database by a
// thread of the store's own, beside new appends; that thread also writes each new
// series' row, after which the log names the series by id only. Log segments whose
// samples are all in SQLite are deleted; the same thread cuts the open chunks that pin
// old segments, a slice of series at a time: at each maintenance those of quiet series
// (and of live ones when few), of every series when the log outgrows its cap. Open
// replays the log.
// docs/storage.md has the format, the durability promise and the limits.
//
// Thread safety: every public method may be called from any thread. Appends and
// maintenance hold the store's lock, except for the log's fdatasync, which appends
// share outside it; reads hold it only to snapshot the head, then read SQLite through
// their own connection and decode large reads on two threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/dir_lock.h"
#include "core/env.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "core/wal.h"
#include "store/aggregate.h"
#include "store/store.h"
#include "tsdb/chunk/xor_chunk.h"
#include "tsdb/chunk_cache.h"
#include "tsdb/chunk_db.h"
#include "tsdb/index/index.h"

namespace vigil::tsdb {

// A downsampled tier (docs/storage.md, "Tiers"): the compactor writes each series' window
// summaries at `resolution_ms` (which divides 2 h) beside its compacted blocks; they are
// kept `retention_ms` (0: forever) whatever the raw retention, and answer window queries
// aligned to the resolution without decoding samples.
struct TierOptions {
  int64_t resolution_ms = 0;
  int64_t retention_ms = 0;
  bool operator==(const TierOptions&) const = default;
};

// Why `tiers` cannot be used (a resolution that does not divide 2 h or is under 1 s, a
// negative retention, not finest first), or OK.
Status CheckTiers(const std::vector<TierOptions>& tiers);

struct TsdbOptions {
  std::string dir;  // holds chunks.db and wal/
  wal::WalOptions wal;
  // Chunks never span a multiple of this (2 h, as Prometheus's head blocks).
  int64_t chunk_range_ms = 2 * 3'600'000;
  int max_chunk_samples = 120;
  // Samples this much older than their series' newest are rejected; 0: no limit (late
  // samples of any age are kept; compaction merges them into their block).
  int64_t out_of_order_window_ms = 0;
  // Chunks whose newest sample is older than this are deleted; 0: keep forever.
  int64_t retention_ms = 15 * 86'400'000LL;
  // Oldest chunks are deleted while the store uses more bytes than this; 0: no limit.
  int64_t retention_bytes = 0;
  // Points one Select or Aggregate may return.
  int64_t max_points = 5'000'000;
  // Finest first; none: no tiers are written (those already written are deleted).
  std::vector<TierOptions> tiers;
  // Closed chunks are persisted when this many wait, or when the oldest waited this long.
  size_t persist_chunks = 4096;
  int64_t persist_interval_ms = 60'000;
  // Retention and log clean-up run at most this often (from Append, or Maintain).
  int64_t maintenance_interval_ms = 60'000;
  // When the log grows past this, open chunks are cut and persisted so that old
  // segments can go (a series that stops reporting must not pin the log forever).
  uint64_t wal_max_bytes = 512ull << 20;
  // Groups (a series' chunks of an ended 2-hour block) the persister thread compacts
  // after each persist at most; the rest waits for the next round.
  int64_t compact_groups_per_round = 4096;
  // Chunk rows of recently read series and blocks kept in memory (chunk_cache.h); 0: none.
  size_t chunk_cache_bytes = size_t{64} << 20;
  metrics::Registry* registry = &metrics::Registry::Default();
};

// Counts since Open, for tests and `vigil` self-metrics.
struct TsdbStats {
  uint64_t series = 0;
  uint64_t samples_appended = 0;
  uint64_t duplicates = 0;
  uint64_t too_old = 0;
  uint64_t head_chunks = 0;         // open and closed-but-not-persisted chunks
  uint64_t series_without_row = 0;  // whose labels the log still names in each segment
  uint64_t wal_bytes = 0;
  uint64_t replayed_records = 0;
  int wal_torn_tails = 0;
  int wal_corrupt_segments = 0;
  uint64_t corrupt_chunks = 0;  // reads that met a damaged chunk row
  uint64_t persisted_chunks = 0;
  uint64_t retention_deleted_chunks = 0;
  uint64_t compacted_groups = 0;
  uint64_t tier_blocks_read = 0;  // blocks a query read as a tier's summaries
};

class TsdbStore final : public store::Store {
 public:
  // Opens or creates the store in options.dir and replays its log. A torn or damaged log
  // is cut or skipped and reported (never a refusal to start); a chunk database that
  // SQLite cannot open is an error.
  static Result<std::unique_ptr<TsdbStore>> Open(Env& env, Clock& clock, TsdbOptions options);
  ~TsdbStore() override;

  // Durable per the log's fsync policy when OK. With `always`, the fdatasync runs
  // outside the store's lock and covers every append waiting for it (group commit);
  // readers may see a batch's samples a moment before its append returns. On error the
  // caller retries (Unavailable): nothing of the batch was applied, or, when the log's
  // sync failed, the samples were applied and a retry finds them stored (the store
  // first persists everything in memory to SQLite).
  Status Append(const model::Batch& batch) override;
  Status AppendAll(const model::Batch& batch) override;
  // Syncs the log if the `interval` policy says it is time (Append already did the rest).
  Status Flush() override;

  Result<store::SelectResult> Select(const std::vector<model::Matcher>& matchers, int64_t start_ms,
                                     int64_t end_ms) override;
  // A series at a time: its persisted chunks read with those of a run of series in one
  // read transaction, decoded, then handed to fn. Not limited by max_points.
  Status ForEachSeries(const std::vector<model::Matcher>& matchers, int64_t start_ms,
                       int64_t end_ms, const store::StepPicks* picks,
                       std::vector<std::string>* warnings, const SeriesFn& transform,
                       const SeriesFn& fn) override;
  Result<store::SelectResult> Aggregate(const store::AggregateQuery& query) override;
  Result<std::vector<model::Labels>> Series(const std::vector<model::Matcher>& matchers) override;
  Result<std::vector<std::string>> LabelNames(const std::vector<model::Matcher>& matchers) override;
  Result<std::vector<std::string>> LabelValues(
      const std::string& name, const std::vector<model::Matcher>& matchers) override;

  // Syncs the log if due, applies retention, deletes log segments no longer needed, and
  // wakes the persister thread for closed chunks and new series rows that are due and
  // for the open chunks that pin old segments. Append calls it when due; callers may
  // call it on a timer (an idle store with wal_fsync = interval syncs only then, or on
  // Close).
  Status Maintain() override;
  // Cuts every open chunk and out-of-order buffer, persists everything, compacts every
  // block, the current one too, and deletes every log segment but the current one
  // (benchmarks, backups, tests).
  Status PersistAll();
  // Cuts the heads, persists everything, compacts up to compact_groups_per_round groups
  // (the current block's included) and deletes the log segments no longer needed, so the
  // next open replays next to nothing. Idempotent.
  Status Close() override;

  TsdbStats stats() const;
  // Bytes of the chunk database's files and the log on disk.
  Result<int64_t> DiskBytes();
  // What size-based retention counts: chunk data plus a fixed per-row overhead, plus
  // the log. The database file is larger by SQLite's page slack (docs/storage.md).
  Result<int64_t> RetainedBytes();

 private:
  struct ClosedChunk {
    int64_t min_t;
    int64_t max_t;
    int count;
    std::string data;
    uint64_t segment;  // log segment of its first sample
    uint64_t seq;      // order of closing, over all series
  };
  // Closed chunks and new series rows copied for one SQLite transaction.
  struct PersistBatch {
    std::vector<std::pair<uint64_t, model::Labels>> labels;  // series without a row yet
    std::vector<ChunkRow> rows;
    std::vector<uint64_t> series;  // the series the rows are of
    uint64_t seq_end = 0;          // the batch holds every chunk closed before this seq
    std::chrono::steady_clock::time_point started;
  };
  struct MemSeries;
  struct BatchGroup;
  struct SeriesSnapshot;

  TsdbStore(Env& env, Clock& clock, TsdbOptions options);
  Status Load();
  Status ApplyRecord(uint64_t segment, std::string_view record) VIGIL_REQUIRES(mu_);
  // Append and AppendAll: AppendLocked under the lock, then the log sync the policy asks.
  Status AppendDurably(const model::Batch& batch, bool all_or_nothing);
  // Append's work under the lock: checks, log write (not yet synced), head.
  Status AppendLocked(const model::Batch& batch, bool all_or_nothing) VIGIL_REQUIRES(mu_);
  Status RecoverFromFailedSync() VIGIL_REQUIRES(mu_);

  // `hash` is labels.Hash().
  MemSeries* GetOrCreate(const model::Labels& labels, uint64_t hash, bool* created)
      VIGIL_REQUIRES(mu_);
  // The series records: made by AddSeries (id and labels new), found through index_
  // (which only points at them), deleted by ForgetSeries or by the destructor.
  MemSeries* AddSeries(uint64_t id, model::LabelsView labels) VIGIL_REQUIRES(mu_);
  MemSeries* FindSeries(uint64_t id) const VIGIL_REQUIRES(mu_);  // nullptr: unknown
  void ForgetSeries(MemSeries* series) VIGIL_REQUIRES(mu_);
  // Calls fn(MemSeries&) for every series, in no particular order.
  template <typename Fn>
  void ForEachSeries(Fn&& fn) const VIGIL_REQUIRES(mu_);
  // Sorts one series' candidates into in-order, out-of-order, duplicate, too old.
  void Classify(std::span<const model::Sample> samples, BatchGroup& group, bool replaying)
      VIGIL_REQUIRES(mu_);
  // Drops out-of-order candidates whose timestamp is already stored.
  Status DropStoredDuplicates(MemSeries& series, BatchGroup& group) VIGIL_REQUIRES(mu_);
  // During replay: appends to `stored` the samples of series' chunk rows from `lo` on
  // (read from SQLite at the series' first call, then kept) and sets *served; leaves
  // both alone when it cannot (past the bound, or `lo` before the first call's).
  Status ReplayStored(const MemSeries& series, int64_t lo, std::vector<model::Sample>* stored,
                      bool* served) VIGIL_REQUIRES(mu_);
  void Apply(MemSeries& series, BatchGroup& group, uint64_t segment) VIGIL_REQUIRES(mu_);
  void CutHead(MemSeries& series) VIGIL_REQUIRES(mu_);
  void CutOutOfOrder(MemSeries& series) VIGIL_REQUIRES(mu_);
  // Writes every closed chunk to SQLite and drops it from memory (under the lock).
  Status PersistClosed() VIGIL_REQUIRES(mu_);
  // PersistClosed in three steps, so the SQLite write can run without the store's lock.
  // GatherClosed takes every closed chunk and up to kSeriesRowsPerPersist new series.
  PersistBatch GatherClosed() VIGIL_REQUIRES(mu_);
  static constexpr size_t kSeriesRowsPerPersist = 65'536;
  Status WritePersistBatch(const PersistBatch& batch);  // takes db_mu_
  Status DropPersisted(const PersistBatch& batch) VIGIL_REQUIRES(mu_);
  // The persister thread: persists closed chunks and new series rows when an append
  // asks; releases the log when it is over its cap; compacts ended blocks.
  void PersistLoop();
  // Wakes the persister when closed chunks or new series are due, or when the log is
  // over wal_max_bytes: then it first cuts the open chunks that pin the segments before
  // the current one, kCutsPerLock series per hold of the lock.
  void RequestPersistIfDue() VIGIL_REQUIRES(mu_);
  void WakePersister() VIGIL_REQUIRES(mu_);
  // The oldest log segment a series' open chunk or out-of-order buffer holds samples of;
  // UINT64_MAX when it has neither.
  static uint64_t OldestSegmentHeld(const MemSeries& series);
  static constexpr size_t kCutsPerLock = 16'384;
  Status DeleteUnneededSegments() VIGIL_REQUIRES(mu_);
  // Compacts up to max_groups groups of blocks before before_block, a transaction of
  // kCompactGroupsPerTransaction at a time; takes db_mu_, then mu_ to count rows.
  Status CompactBlocksBefore(int64_t before_block, int64_t max_groups) VIGIL_EXCLUDES(mu_);
  // The compacted row of a group's rows (docs/format/block.md) and its tier rows; rows it
  // cannot read get encoding 0 and stay out.
  std::optional<ChunkRow> MergeGroup(std::vector<ChunkRow>& rows, std::vector<TierRow>* tiers);
  // ForEachSeries's work (`picks` as there). With `resolution_ms` (a tier's), the blocks
  // whose tier row holds all their samples (and their counter corrections, when
  // `need_resets`) are read as that row's summaries, passed to transform beside the
  // samples of the other blocks; fn gets what transform leaves.
  using SummariesFn = std::function<Status(const model::Labels&, std::vector<model::Sample>&,
                                           std::vector<store::WindowSummary>&)>;
  Status ReadSeries(const std::vector<model::Matcher>& matchers, int64_t start_ms, int64_t end_ms,
                    int64_t resolution_ms, bool need_resets, const store::StepPicks* picks,
                    std::vector<std::string>* warnings, const SummariesFn& transform,
                    const SeriesFn& fn);
  static constexpr int64_t kCompactGroupsPerTransaction = 256;
  // How far before its first sample's block a chunk row can start holding samples.
  int64_t MaxRowSpan() const;
  Status ApplyRetention() VIGIL_REQUIRES(mu_);
  // Deletes tier rows past their tier's retention (once a block) and of tiers no longer
  // configured (at open); their series go to maybe_empty_.
  Status ApplyTierRetention() VIGIL_REQUIRES(mu_, db_mu_);
  Status MaintainLocked(bool force) VIGIL_REQUIRES(mu_);
  int64_t BlockEnd(int64_t t) const;

  Env& env_;
  Clock& clock_;
  const TsdbOptions options_;

  mutable Mutex mu_;
  index::Index index_ VIGIL_GUARDED_BY(mu_);  // of the MemSeries records
  uint64_t next_id_ VIGIL_GUARDED_BY(mu_) = 1;
  std::unordered_map<uint64_t, uint64_t> replay_aliases_
      VIGIL_GUARDED_BY(mu_);  // during Open: log id -> id
  // During Open's replay: per series, the samples of its chunk rows from the first logged
  // sample that needed a look there up to its newest row, read once instead of once per
  // log record (a million series whose log held samples of their rows: 11 M reads).
  // Up to kReplayStoredMaxSamples, a series' entry counted as four samples; past that,
  // series are read per record as before.
  struct StoredTail {
    int64_t from;
    std::vector<model::Sample> samples;
  };
  std::optional<std::unordered_map<uint64_t, StoredTail>> replay_stored_ VIGIL_GUARDED_BY(mu_);
  size_t replay_stored_samples_ VIGIL_GUARDED_BY(mu_) = 0;
  static constexpr size_t kReplayStoredMaxSamples = 8 << 20;  // about 128 MB
  std::vector<uint64_t> with_closed_ VIGIL_GUARDED_BY(mu_);   // series holding closed chunks
  // Series without a row in the series table: the log names their labels in each
  // segment until the persister has written the row.
  std::vector<uint64_t> without_row_ VIGIL_GUARDED_BY(mu_);
  // Nonzero: the persister is to cut the open chunks that pin segments before this one.
  uint64_t release_log_before_ VIGIL_GUARDED_BY(mu_) = 0;
  uint64_t released_log_before_ VIGIL_GUARDED_BY(mu_) = 0;  // the last such request
  // Set at maintenance: the persister is to cut the open chunks that pin old segments of
  // quiet series (no sample for kQuietMs of data time behind the newest sample), and of
  // live ones when they are at most kCutsPerLock.
  bool cut_quiet_heads_ VIGIL_GUARDED_BY(mu_) = false;
  int64_t newest_ms_ VIGIL_GUARDED_BY(mu_) = INT64_MIN;  // the newest sample appended
  static constexpr int64_t kQuietMs = 15 * 60'000;
  std::vector<uint64_t> maybe_empty_
      VIGIL_GUARDED_BY(mu_);  // series that lost chunk rows: forget them if empty
  // Per tier: the block before which its rows were last deleted; INT64_MIN before the
  // first round (which also deletes the rows of tiers no longer configured).
  std::vector<int64_t> tier_retention_block_ VIGIL_GUARDED_BY(mu_);
  size_t closed_count_ VIGIL_GUARDED_BY(mu_) = 0;
  int64_t oldest_closed_at_ VIGIL_GUARDED_BY(mu_) = 0;  // clock time the first waiting chunk closed
  int64_t last_maintenance_ VIGIL_GUARDED_BY(mu_) = 0;
  uint64_t next_closed_seq_ VIGIL_GUARDED_BY(mu_) = 0;
  bool persist_requested_ VIGIL_GUARDED_BY(mu_) = false;
  bool stop_persister_ VIGIL_GUARDED_BY(mu_) = false;
  CondVar persist_wanted_;
  std::thread persister_;
  std::once_flag persister_stopped_;

  // Chunk rows recently read, shared by writer_db_ and reader_db_ (declared after it, so
  // closed before it).
  std::unique_ptr<ChunkCache> chunk_cache_;
  Mutex db_mu_;                        // guards writer_db_; taken after mu_ when both are held
  std::unique_ptr<DirLock> dir_lock_;  // one process at a time in options_.dir
  std::unique_ptr<ChunkDb> writer_db_ VIGIL_GUARDED_BY(db_mu_);
  std::unique_ptr<wal::WalWriter> wal_;
  // The log record being written, its room kept for the next batch up to
  // kKeptRecordBytes: a larger one (the first batch of 100,000 new series logs 14 MB of
  // labels) is given back once written, not held for the process's life.
  static constexpr size_t kKeptRecordBytes = size_t{1} << 20;
  std::string record_;
  uint64_t recovered_sync_failures_ = 0;  // the log's sync_failures() last recovered from
  TsdbStats stats_ VIGIL_GUARDED_BY(mu_);
  bool closed_ VIGIL_GUARDED_BY(mu_) = false;

  Mutex read_mu_;  // guards reader_db_
  std::unique_ptr<ChunkDb> reader_db_;
  // Vectors reads decoded into, kept for the next read (up to kDecodePoolBytes of them):
  // memory fresh from the kernel costs a page fault per 4 KiB, a sixth of a long read.
  Mutex decode_pool_mu_;
  std::vector<std::vector<model::Sample>> decode_pool_ VIGIL_GUARDED_BY(decode_pool_mu_);

  metrics::Gauge& series_gauge_;
  metrics::Counter& appended_;
  metrics::Counter& duplicates_;
  metrics::Counter& too_old_;
  metrics::Gauge& head_chunks_gauge_;
  metrics::Gauge& wal_bytes_gauge_;
  metrics::Gauge& db_bytes_gauge_;
  metrics::Family<metrics::Counter>& wal_corruptions_;
  metrics::Counter& corrupt_chunks_;
  metrics::Counter& retention_deleted_;
  metrics::Histogram& persist_seconds_;
  metrics::Histogram& replay_seconds_;
  metrics::Counter& compacted_;
  metrics::Counter& tier_blocks_read_;
  metrics::Histogram& compaction_seconds_;
};

}  // namespace vigil::tsdb
