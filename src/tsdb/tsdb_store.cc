#include "tsdb/tsdb_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <set>
#include <thread>

#include "core/check.h"
#include "core/helper_thread.h"
#include "store/aggregate.h"
#include "tsdb/chunk/block_chunk.h"
#include "tsdb/chunk/summary_row.h"
#include "tsdb/wal_record.h"

namespace vigil::tsdb {

using model::Sample;

namespace {

// An upper bound on a time, in 32 bits: minutes, rounded up (none: INT64_MIN; past 32 bits
// of minutes, 6053 AD: INT64_MAX).
class UpperBoundMinute {
 public:
  int64_t Get() const {
    if (minute_ == INT32_MIN) return INT64_MIN;
    if (minute_ == INT32_MAX) return INT64_MAX;
    return int64_t{minute_} * 60'000;
  }
  void Raise(int64_t t) {
    // Division truncates toward zero: a ceiling below zero, a floor above.
    const int64_t ceiling = t / 60'000 + (t % 60'000 > 0 ? 1 : 0);
    minute_ = std::max(minute_, static_cast<int32_t>(std::clamp<int64_t>(
                                    ceiling, int64_t{INT32_MIN} + 1, INT32_MAX)));
  }

 private:
  int32_t minute_ = INT32_MIN;
};

}  // namespace

// A series in memory: the index's entry (id and labels) and the head, in one allocation.
// A million series keep a million of these: 80 bytes, so that with labels of up to 40
// bytes the allocation is glibc's 128-byte chunk (static_assert below).
struct TsdbStore::MemSeries : index::Entry {
  explicit MemSeries(uint64_t series_id) : Entry(series_id) {}
  // The open chunk, in place; without samples (no memory) when there is none. It ends at
  // BlockEnd(head.min_time()). Its max_time() is the newest timestamp stored anywhere:
  // a Cut keeps it, and opening the store sets it from the chunk rows.
  [[no_unique_address]] chunk::XorAppender head;
  uint32_t head_segment = 0;  // log segment of the open chunk's first sample (Segment32)
  bool has_head() const { return head.count() > 0; }
  int64_t max_t() const { return head.max_time(); }
  // Out-of-order samples and closed chunks on their way to SQLite, allocated while the
  // series has any: most series, most of the time, have none (56 bytes less each).
  struct Waiting {
    std::vector<Sample> out_of_order;  // sorted, not yet in a chunk
    uint64_t out_of_order_segment = 0;
    std::vector<ClosedChunk> closed;  // waiting to be persisted
  };
  std::unique_ptr<Waiting> waiting;
  Waiting& Wait() {
    if (!waiting) waiting = std::make_unique<Waiting>();
    return *waiting;
  }
  void FreeWaitingIfEmpty() {
    if (waiting && waiting->out_of_order.empty() && waiting->closed.empty()) waiting.reset();
  }
  std::span<const Sample> out_of_order() const {
    return waiting ? std::span<const Sample>(waiting->out_of_order) : std::span<const Sample>();
  }
  std::span<const ClosedChunk> closed() const {
    return waiting ? std::span<const ClosedChunk>(waiting->closed) : std::span<const ClosedChunk>();
  }
  // No chunk row holds a sample newer than this (an upper bound, kept to the minute).
  int64_t db_max_t() const { return db_max_minute_.Get(); }
  void RaiseDbMaxT(int64_t t) { db_max_minute_.Raise(t); }
  uint32_t logged_segment = 0;  // the log segment that last got its labels (0: none)
  int32_t db_chunks = 0;        // its rows in the chunks table
  // Its group in the AppendLocked that last met it: current when that group is of it.
  uint32_t append_group : 31 = 0;
  uint32_t in_db : 1 = 0;  // it has a row in the series table

 private:
  UpperBoundMinute db_max_minute_;
};
// One series' share of an Append.
struct TsdbStore::BatchGroup {
  MemSeries* series = nullptr;
  // Copied from the series when the group is made, so that writing the log record reads
  // the groups alone: a batch's series do not stay in the cache between its passes.
  uint64_t series_id = 0;
  bool series_in_db = false;
  uint64_t series_logged_segment = 0;
  int64_t newest = INT64_MIN;
  // Ascending, all newer than anything stored: the caller's samples themselves when they
  // are (the common case: no copy), else in_order_copy.
  std::span<const Sample> in_order;
  std::vector<Sample> in_order_copy;
  std::vector<Sample> out_of_order;  // older than the newest, within the window
  uint64_t duplicates = 0;
  uint64_t too_old = 0;
  int64_t first_too_old_ms = 0;
};

struct TsdbStore::SeriesSnapshot {
  uint64_t id = 0;
  model::Labels labels;
  bool in_db = false;
  std::vector<std::string> chunks;  // head and closed chunks overlapping the range
  std::vector<Sample> out_of_order;
  // The time the head, the closed chunks and the out-of-order samples overlapping the
  // range span: the blocks no tier row answers for.
  int64_t memory_min_t = INT64_MAX;
  int64_t memory_max_t = INT64_MIN;
  void AddMemory(int64_t min_t, int64_t max_t) {
    memory_min_t = std::min(memory_min_t, min_t);
    memory_max_t = std::max(memory_max_t, max_t);
  }
};

namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// What a chunk row costs beyond its data in SQLite (key, columns, cell header), measured.
constexpr int64_t kChunkRowOverhead = 32;

// A series keeps log segment numbers in 32 bits: numbered from 1, a segment per 64 MiB of
// log by default, they last 256 PiB.
uint32_t Segment32(uint64_t segment) {
  VIGIL_CHECK(segment <= UINT32_MAX, "log segment number past 32 bits");
  return static_cast<uint32_t>(segment);
}

// A list of series that once held a million ids (every series new in one round) gives
// their 8 MB back once it is mostly empty.
void ReleaseSpareCapacity(std::vector<uint64_t>& ids) {
  if (ids.capacity() > 4 * ids.size() + 4096) ids.shrink_to_fit();
}

bool ByTime(const Sample& a, const Sample& b) { return a.timestamp_ms < b.timestamp_ms; }
bool SameTime(const Sample& a, const Sample& b) { return a.timestamp_ms == b.timestamp_ms; }

bool ContainsTime(std::span<const Sample> sorted, int64_t t) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), t,
                             [](const Sample& s, int64_t v) { return s.timestamp_ms < v; });
  return it != sorted.end() && it->timestamp_ms == t;
}

// Sorts by time and removes repeated timestamps (the first kept) unless already sorted.
void Normalize(std::vector<Sample>* samples) {
  // Strictly increasing already (the usual case): one pass.
  if (std::adjacent_find(samples->begin(), samples->end(), [](const Sample& a, const Sample& b) {
        return a.timestamp_ms >= b.timestamp_ms;
      }) == samples->end()) {
    return;
  }
  std::stable_sort(samples->begin(), samples->end(), ByTime);
  samples->erase(std::unique(samples->begin(), samples->end(), SameTime), samples->end());
}

void Trim(std::vector<Sample>* samples, int64_t start_ms, int64_t end_ms) {
  auto first = std::lower_bound(samples->begin(), samples->end(), start_ms,
                                [](const Sample& s, int64_t t) { return s.timestamp_ms < t; });
  samples->erase(samples->begin(), first);
  auto last = std::upper_bound(samples->begin(), samples->end(), end_ms,
                               [](int64_t t, const Sample& s) { return t < s.timestamp_ms; });
  samples->erase(last, samples->end());
}

}  // namespace

TsdbStore::TsdbStore(Env& env, Clock& clock, TsdbOptions options)
    : env_(env),
      clock_(clock),
      options_(std::move(options)),
      chunk_cache_(std::make_unique<ChunkCache>(options_.chunk_cache_bytes, *options_.registry)),
      series_gauge_(
          options_.registry->AddGauge("vigil_tsdb_series", "Series in the embedded store.")
              .WithLabels({})),
      appended_(options_.registry
                    ->AddCounter("vigil_tsdb_samples_appended_total",
                                 "Samples the embedded store accepted.")
                    .WithLabels({})),
      duplicates_(options_.registry
                      ->AddCounter("vigil_tsdb_samples_dropped_total",
                                   "Samples the embedded store dropped: duplicate (series and "
                                   "timestamp already stored), too_old (outside the "
                                   "out-of-order window).",
                                   {"reason"})
                      .WithLabels({"duplicate"})),
      too_old_(options_.registry->AddCounter("vigil_tsdb_samples_dropped_total", "", {"reason"})
                   .WithLabels({"too_old"})),
      head_chunks_gauge_(options_.registry
                             ->AddGauge("vigil_tsdb_head_chunks",
                                        "Chunks in memory: open, and closed awaiting SQLite.")
                             .WithLabels({})),
      wal_bytes_gauge_(
          options_.registry->AddGauge("vigil_tsdb_wal_bytes", "Bytes in write-ahead log segments.")
              .WithLabels({})),
      db_bytes_gauge_(
          options_.registry
              ->AddGauge("vigil_tsdb_db_bytes",
                         "Bytes of the chunk database (SQLite pages, free ones included).")
              .WithLabels({})),
      wal_corruptions_(options_.registry->AddCounter(
          "vigil_tsdb_wal_corruptions_total",
          "Faults met replaying the log: torn_tail (cut), corrupt (rest of a segment skipped), "
          "record (undecodable record skipped).",
          {"kind"})),
      corrupt_chunks_(options_.registry
                          ->AddCounter("vigil_tsdb_corrupt_chunks_total",
                                       "Chunk rows that failed their checksum or decoding.")
                          .WithLabels({})),
      retention_deleted_(options_.registry
                             ->AddCounter("vigil_tsdb_retention_deleted_chunks_total",
                                          "Chunks deleted by retention (age or size).")
                             .WithLabels({})),
      persist_seconds_(options_.registry
                           ->AddHistogram("vigil_tsdb_persist_duration_seconds",
                                          "Time to write closed chunks to SQLite, per transaction.",
                                          {})
                           .WithLabels({})),
      replay_seconds_(options_.registry
                          ->AddHistogram("vigil_tsdb_wal_replay_duration_seconds",
                                         "Time to replay the write-ahead log at open.", {})
                          .WithLabels({})),
      compacted_(options_.registry
                     ->AddCounter("vigil_tsdb_compacted_groups_total",
                                  "A series' chunks of a 2-hour block merged into one compacted "
                                  "row.")
                     .WithLabels({})),
      tier_blocks_read_(options_.registry
                            ->AddCounter("vigil_tsdb_tier_blocks_read_total",
                                         "A series' 2-hour block a query read as a tier's "
                                         "summaries instead of its samples.")
                            .WithLabels({})),
      compaction_seconds_(options_.registry
                              ->AddHistogram("vigil_tsdb_compaction_duration_seconds",
                                             "Time of one round of compaction.", {})
                              .WithLabels({})) {}

Status CheckTiers(const std::vector<TierOptions>& tiers) {
  for (size_t i = 0; i < tiers.size(); ++i) {
    const TierOptions& tier = tiers[i];
    if (tier.resolution_ms < 1000 || kBlockMs % tier.resolution_ms != 0) {
      return InvalidArgumentError(
          "a tier's resolution must divide 2h and be at least 1s (1m, 5m, 10m, 15m, 30m, 1h, "
          "2h …)");
    }
    if (tier.retention_ms < 0) return InvalidArgumentError("a tier's retention must be >= 0");
    if (i > 0 && tier.resolution_ms <= tiers[i - 1].resolution_ms) {
      return InvalidArgumentError("tiers go from the finest resolution to the coarsest");
    }
  }
  return OkStatus();
}

Result<std::unique_ptr<TsdbStore>> TsdbStore::Open(Env& env, Clock& clock, TsdbOptions options) {
  if (options.dir.empty()) return InvalidArgumentError("tsdb: no folder given");
  if (options.max_chunk_samples < 2 ||
      options.max_chunk_samples > chunk::XorAppender::kMaxSamples) {
    return InvalidArgumentError("tsdb: max_chunk_samples must be in [2, " +
                                std::to_string(chunk::XorAppender::kMaxSamples) + "]");
  }
  if (options.chunk_range_ms <= 0 || options.chunk_range_ms > chunk::XorAppender::kMaxSpanMs) {
    return InvalidArgumentError("tsdb: chunk_range must be in (0, " +
                                std::to_string(chunk::XorAppender::kMaxSpanMs) + "] ms");
  }
  VIGIL_RETURN_IF_ERROR(CheckTiers(options.tiers).Annotate("tsdb"));
  std::unique_ptr<TsdbStore> store(new TsdbStore(env, clock, std::move(options)));
  VIGIL_RETURN_IF_ERROR(store->Load().Annotate("open tsdb " + store->options_.dir));
  store->persister_ = std::thread([s = store.get()] { s->PersistLoop(); });
  return store;
}

TsdbStore::~TsdbStore() {
  Status status = Close();
  if (!status.ok()) spdlog::error("tsdb: close: {}", status.ToString());
  MutexLock lock(mu_);
  ForEachSeries([](MemSeries& series) { index::Entry::Free(&series); });
}

template <typename Fn>
void TsdbStore::ForEachSeries(Fn&& fn) const {
  for (index::Entry& entry : index_.entries()) fn(static_cast<MemSeries&>(entry));
}

Status TsdbStore::Load() {
  MutexLock lock(mu_);
  VIGIL_RETURN_IF_ERROR(env_.CreateDirs(options_.dir));
  // SQLite writes through the file system itself, outside the Env seam.
  std::error_code error;
  std::filesystem::create_directories(options_.dir, error);
  if (error) return UnavailableError("create folder " + options_.dir + ": " + error.message());
  VIGIL_ASSIGN_OR_RETURN(dir_lock_, DirLock::Acquire(options_.dir));
  const std::string db_path = options_.dir + "/chunks.db";
  {
    MutexLock db(db_mu_);
    VIGIL_ASSIGN_OR_RETURN(writer_db_,
                           ChunkDb::Open(db_path, /*read_only=*/false, chunk_cache_.get()));
    VIGIL_RETURN_IF_ERROR(writer_db_->LoadSeries(
        [&](uint64_t id, model::Labels labels) VIGIL_REQUIRES(mu_) {
          AddSeries(id, labels.view())->in_db = true;
          next_id_ = std::max(next_id_, id + 1);
        },
        [&](uint64_t id, const std::string& reason) VIGIL_REQUIRES(mu_) {
          spdlog::error("tsdb: series row {} unreadable, its chunks are skipped: {}", id, reason);
          next_id_ = std::max(next_id_, id + 1);
        }));
    VIGIL_RETURN_IF_ERROR(writer_db_->LoadChunkCounts(
        [&](uint64_t id, int64_t max_t, int64_t chunks) VIGIL_REQUIRES(mu_) {
          if (MemSeries* series = FindSeries(id)) {
            series->head.set_max_time(max_t);
            series->RaiseDbMaxT(max_t);
            series->db_chunks = static_cast<int32_t>(chunks);
          }
        }));
  }
  ForEachSeries([&](MemSeries& series) VIGIL_REQUIRES(mu_) {
    if (series.db_chunks == 0) maybe_empty_.push_back(series.id);  // retention's last run failed
  });

  const auto started = std::chrono::steady_clock::now();
  wal::ReplayStats replay;
  // The replay runs in one read transaction: logged samples no newer than a series' chunk
  // rows are looked up there (DropStoredDuplicates, once per series: ReplayStored), and a
  // transaction of its own for each read took longer than the read (a million series
  // killed while their chunks cut at a block's end were persisted: 58 s).
  {
    MutexLock db(db_mu_);
    VIGIL_RETURN_IF_ERROR(writer_db_->BeginRead());
  }
  replay_stored_.emplace();
  Status replayed = wal::ReplayWal(
      env_, options_.dir + "/wal",
      [this](uint64_t segment, std::string_view record)
          VIGIL_REQUIRES(mu_) { return ApplyRecord(segment, record); },
      &replay);
  replay_stored_.reset();
  replay_stored_samples_ = 0;
  {
    MutexLock db(db_mu_);
    Status ended = writer_db_->EndRead();
    if (replayed.ok()) replayed = ended;
  }
  VIGIL_RETURN_IF_ERROR(replayed);
  replay_aliases_.clear();
  for (const std::string& error : replay.errors) spdlog::warn("tsdb: {}", error);
  wal_corruptions_.WithLabels({"torn_tail"}).Inc(replay.torn_tails);
  wal_corruptions_.WithLabels({"corrupt"}).Inc(replay.corrupt_segments);
  stats_.replayed_records = replay.records;
  stats_.wal_torn_tails = replay.torn_tails;
  stats_.wal_corrupt_segments = replay.corrupt_segments;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  replay_seconds_.Observe(seconds);
  if (replay.records > 0) {
    spdlog::info("tsdb: replayed {} log records ({} bytes) in {:.3f} s", replay.records,
                 replay.bytes, seconds);
  }

  VIGIL_ASSIGN_OR_RETURN(wal_,
                         wal::WalWriter::Open(env_, options_.dir + "/wal", options_.wal, clock_));
  VIGIL_ASSIGN_OR_RETURN(reader_db_,
                         ChunkDb::Open(db_path, /*read_only=*/true, chunk_cache_.get()));
  return MaintainLocked(/*force=*/false);
}

Status TsdbStore::ApplyRecord(uint64_t segment, std::string_view record) {
  DecodedRecord decoded;
  if (Status status = DecodeSamplesRecord(record, &decoded); !status.ok()) {
    wal_corruptions_.WithLabels({"record"}).Inc();
    spdlog::error("tsdb: wal segment {}: skipped a record: {}", segment, status.ToString());
    return OkStatus();
  }
  for (DecodedSeries& s : decoded.new_series) {
    if (const MemSeries* known = FindSeries(s.id)) {
      if (known->labels() != s.labels.view()) {
        spdlog::error("tsdb: wal segment {}: series {} is {} in the log but {} in the database",
                      segment, s.id, s.labels.ToString(), known->labels().ToString());
      }
      continue;
    }
    if (const index::Entry* existing = index_.Find(s.labels.view(), s.labels.Hash())) {
      // The same labels under another id: an append whose log write failed after its
      // bytes reached the file, retried under a new id. Both ids mean this series.
      replay_aliases_[s.id] = existing->id;
      next_id_ = std::max(next_id_, s.id + 1);
      continue;
    }
    AddSeries(s.id, s.labels.view());
    without_row_.push_back(s.id);
    next_id_ = std::max(next_id_, s.id + 1);
  }
  constexpr size_t kPrefetchAhead = 8;  // as in AppendLocked
  for (size_t i = 0; i < decoded.groups.size(); ++i) {
    if (i + kPrefetchAhead < decoded.groups.size()) {
      index_.PrefetchId(decoded.groups[i + kPrefetchAhead].id);
    }
    DecodedGroup& g = decoded.groups[i];
    if (auto alias = replay_aliases_.find(g.id); alias != replay_aliases_.end()) {
      g.id = alias->second;
    }
    MemSeries* series = FindSeries(g.id);
    if (series == nullptr) {
      // Named by id only, so its row was in the series table; retention has since
      // deleted the row with the chunks that held these samples.
      spdlog::warn("tsdb: wal segment {}: samples of series {}, deleted by retention, skipped",
                   segment, g.id);
      continue;
    }
    BatchGroup group;
    group.series = series;
    group.newest = group.series->max_t();
    Classify(g.samples, group, /*replaying=*/true);
    VIGIL_RETURN_IF_ERROR(DropStoredDuplicates(*group.series, group));
    Apply(*group.series, group, segment);
  }
  return OkStatus();
}

TsdbStore::MemSeries* TsdbStore::GetOrCreate(const model::Labels& labels, uint64_t hash,
                                             bool* created) {
  if (index::Entry* found = index_.Find(labels.view(), hash)) {
    *created = false;
    return static_cast<MemSeries*>(found);
  }
  *created = true;
  MemSeries* series = AddSeries(next_id_++, labels.view());
  without_row_.push_back(series->id);
  return series;
}

TsdbStore::MemSeries* TsdbStore::AddSeries(uint64_t id, model::LabelsView labels) {
  // A million series keep a million of these, each one allocation with its labels'
  // bytes (80 and 40 bytes in glibc's 128-byte class, mem_f0{host="host_12345",zone="z7"}),
  // the open chunk's apart.
  static_assert(sizeof(MemSeries) <= 80);
  auto* series = index::Entry::Make<MemSeries>(labels, id);
  index_.Add(series);
  return series;
}

TsdbStore::MemSeries* TsdbStore::FindSeries(uint64_t id) const {
  return static_cast<MemSeries*>(index_.Get(id));
}

void TsdbStore::ForgetSeries(MemSeries* series) {
  index_.Remove(series);
  index::Entry::Free(series);
}

void TsdbStore::Classify(std::span<const Sample> samples, BatchGroup& group, bool replaying) {
  const int64_t window = options_.out_of_order_window_ms;
  if (group.in_order.empty() && !samples.empty() && samples.front().timestamp_ms > group.newest &&
      std::adjacent_find(samples.begin(), samples.end(), [](const Sample& a, const Sample& b) {
        return a.timestamp_ms >= b.timestamp_ms;
      }) == samples.end()) {
    group.in_order = samples;
    group.newest = samples.back().timestamp_ms;
    return;
  }
  if (group.in_order.data() != group.in_order_copy.data()) {
    group.in_order_copy.assign(group.in_order.begin(), group.in_order.end());
  }
  for (const Sample& s : samples) {
    if (s.timestamp_ms > group.newest) {
      group.in_order_copy.push_back(s);
      group.newest = s.timestamp_ms;
    } else if (s.timestamp_ms == group.newest) {
      ++group.duplicates;
    } else if (!replaying && window > 0 && s.timestamp_ms < group.newest - window) {
      if (group.too_old++ == 0) group.first_too_old_ms = s.timestamp_ms;
    } else {
      group.out_of_order.push_back(s);
    }
  }
  group.in_order = group.in_order_copy;
}

Status TsdbStore::DropStoredDuplicates(MemSeries& series, BatchGroup& group) {
  std::vector<Sample>& candidates = group.out_of_order;
  if (candidates.empty()) return OkStatus();
  std::stable_sort(candidates.begin(), candidates.end(), ByTime);
  const size_t before = candidates.size();
  candidates.erase(std::unique(candidates.begin(), candidates.end(), SameTime), candidates.end());
  group.duplicates += before - candidates.size();

  const int64_t lo = candidates.front().timestamp_ms;
  const int64_t hi = candidates.back().timestamp_ms;
  std::vector<Sample> stored;
  auto decode = [&](std::string_view bytes, int encoding = chunk::kXorEncoding) {
    // A damaged chunk counts as holding nothing.
    (void)chunk::DecodeChunk(encoding, bytes, &stored);
  };
  if (series.has_head() && series.head.min_time() <= hi && series.head.max_time() >= lo) {
    decode(series.head.bytes());
  }
  for (const ClosedChunk& c : series.closed()) {
    if (c.min_t <= hi && c.max_t >= lo) decode(c.data);
  }
  // Candidates newer than every chunk row need no read (nor a wait for the persister).
  if (series.in_db && lo <= series.db_max_t()) {
    bool served = false;
    if (replay_stored_) VIGIL_RETURN_IF_ERROR(ReplayStored(series, lo, &stored, &served));
    if (!served) {
      MutexLock db(db_mu_);
      VIGIL_RETURN_IF_ERROR(writer_db_->ReadChunks(
          series.id, lo, hi, MaxRowSpan(),
          [&](const ChunkRow& row, const auto&) { decode(row.data, row.encoding); },
          [](int64_t, const std::string&) {}));
    }
  }
  std::sort(stored.begin(), stored.end(), ByTime);
  const size_t candidates_before = candidates.size();
  std::erase_if(candidates, [&](const Sample& s) {
    return ContainsTime(stored, s.timestamp_ms) ||
           ContainsTime(series.out_of_order(), s.timestamp_ms) ||
           ContainsTime(group.in_order, s.timestamp_ms);
  });
  group.duplicates += candidates_before - candidates.size();
  return OkStatus();
}

Status TsdbStore::ReplayStored(const MemSeries& series, int64_t lo, std::vector<Sample>* stored,
                               bool* served) {
  auto it = replay_stored_->find(series.id);
  if (it == replay_stored_->end()) {
    if (replay_stored_samples_ >= kReplayStoredMaxSamples) return OkStatus();
    StoredTail tail{lo, {}};
    MutexLock db(db_mu_);
    VIGIL_RETURN_IF_ERROR(writer_db_->ReadChunks(
        series.id, lo, series.db_max_t(), MaxRowSpan(),
        [&](const ChunkRow& row, const auto&) {
          (void)chunk::DecodeChunk(row.encoding, row.data, &tail.samples);
        },
        [](int64_t, const std::string&) {}));
    // A series' entry costs about four samples' room besides its own.
    replay_stored_samples_ += tail.samples.size() + 4;
    it = replay_stored_->emplace(series.id, std::move(tail)).first;
  }
  if (lo < it->second.from) return OkStatus();  // older than what was read
  stored->insert(stored->end(), it->second.samples.begin(), it->second.samples.end());
  *served = true;
  return OkStatus();
}

int64_t TsdbStore::MaxRowSpan() const {
  // A compacted row holds a block's chunks; with chunk ranges up to a block long, chunks
  // never cross a block's end.
  return options_.chunk_range_ms <= kBlockMs ? kBlockMs : kBlockMs + options_.chunk_range_ms;
}

int64_t TsdbStore::BlockEnd(int64_t t) const {
  return (FloorDiv(t, options_.chunk_range_ms) + 1) * options_.chunk_range_ms;
}

void TsdbStore::CutHead(MemSeries& series) {
  if (!series.has_head()) return;
  std::vector<ClosedChunk>& closed = series.Wait().closed;
  if (closed.empty()) with_closed_.push_back(series.id);
  if (closed_count_ == 0) oldest_closed_at_ = clock_.NowMillis();
  closed.push_back({series.head.min_time(), series.head.max_time(), series.head.count(),
                    std::string(series.head.bytes()), series.head_segment, next_closed_seq_++});
  ++closed_count_;
  series.head.Cut();
}

void TsdbStore::CutOutOfOrder(MemSeries& series) {
  if (series.out_of_order().empty()) return;
  MemSeries::Waiting& waiting = series.Wait();
  std::vector<Sample>& samples = waiting.out_of_order;
  size_t i = 0;
  while (i < samples.size()) {
    chunk::XorAppender appender;
    const int64_t block_end = BlockEnd(samples[i].timestamp_ms);
    while (i < samples.size() && samples[i].timestamp_ms < block_end &&
           appender.count() < options_.max_chunk_samples) {
      appender.Append(samples[i].timestamp_ms, samples[i].value);
      ++i;
    }
    if (waiting.closed.empty()) with_closed_.push_back(series.id);
    if (closed_count_ == 0) oldest_closed_at_ = clock_.NowMillis();
    waiting.closed.push_back({appender.min_time(), appender.max_time(), appender.count(),
                              std::string(appender.bytes()), waiting.out_of_order_segment,
                              next_closed_seq_++});
    ++closed_count_;
  }
  samples.clear();
}

void TsdbStore::Apply(MemSeries& series, BatchGroup& group, uint64_t segment) {
  int64_t head_end = series.has_head() ? BlockEnd(series.head.min_time()) : 0;
  for (const Sample& s : group.in_order) {
    if (series.has_head() &&
        (series.head.count() >= options_.max_chunk_samples || s.timestamp_ms >= head_end)) {
      CutHead(series);
    }
    if (!series.has_head()) {
      head_end = BlockEnd(s.timestamp_ms);
      series.head_segment = Segment32(segment);
    }
    series.head.Append(s.timestamp_ms, s.value);
  }
  if (!group.out_of_order.empty()) {
    MemSeries::Waiting& waiting = series.Wait();
    std::vector<Sample>& samples = waiting.out_of_order;
    if (samples.empty()) waiting.out_of_order_segment = segment;
    const auto middle = static_cast<std::ptrdiff_t>(samples.size());
    samples.insert(samples.end(), group.out_of_order.begin(), group.out_of_order.end());
    std::inplace_merge(samples.begin(), samples.begin() + middle, samples.end(), ByTime);
    if (samples.size() >= static_cast<size_t>(options_.max_chunk_samples)) {
      CutOutOfOrder(series);
    }
  }
  newest_ms_ = std::max(newest_ms_, group.newest);
  stats_.samples_appended += group.in_order.size() + group.out_of_order.size();
}

Status TsdbStore::Append(const model::Batch& batch) {
  return AppendDurably(batch, /*all_or_nothing=*/false);
}

Status TsdbStore::AppendAll(const model::Batch& batch) {
  return AppendDurably(batch, /*all_or_nothing=*/true);
}

Status TsdbStore::AppendDurably(const model::Batch& batch, bool all_or_nothing) {
  uint64_t position = 0;  // the log's end once this batch is in it
  uint64_t sync_failures = 0;
  {
    MutexLock lock(mu_);
    VIGIL_RETURN_IF_ERROR(AppendLocked(batch, all_or_nothing));
    position = wal_->written();
    sync_failures = recovered_sync_failures_;
  }
  if (options_.wal.fsync != wal::FsyncPolicy::kAlways) return OkStatus();
  // Outside the lock: appends that arrive meanwhile share this fdatasync or the next.
  VIGIL_RETURN_IF_ERROR(wal_->SyncThrough(position).Annotate("tsdb: sync the write-ahead log"));
  if (wal_->sync_failures() != sync_failures) {
    // A sync failed after this append began: samples it found already stored (and so
    // did not log again) may be among the lost. The next append recovers first.
    return UnavailableError("tsdb: a write-ahead log sync failed; retry");
  }
  return OkStatus();
}

Status TsdbStore::RecoverFromFailedSync() {
  const uint64_t failures = wal_->sync_failures();
  // The head may hold samples whose log bytes were lost: persist everything to SQLite,
  // which syncs on its own, and count the log written so far as durable.
  VIGIL_RETURN_IF_ERROR(
      MaintainLocked(/*force=*/true).Annotate("tsdb: recover from a failed log sync"));
  wal_->MarkWrittenDurable();
  recovered_sync_failures_ = failures;
  spdlog::warn("tsdb: recovered from a failed log sync: every sample in memory is persisted");
  return OkStatus();
}

Status TsdbStore::AppendLocked(const model::Batch& batch, bool all_or_nothing) {
  if (closed_) return FailedPreconditionError("tsdb: append after close");
  if (wal_->sync_failures() != recovered_sync_failures_) {
    VIGIL_RETURN_IF_ERROR(RecoverFromFailedSync());
  }
  std::vector<BatchGroup> groups;
  groups.reserve(batch.series.size());
  std::vector<MemSeries*> created;
  // The index's lookups wait for memory at a million series: each series' slot is
  // prefetched a few series ahead of its lookup.
  constexpr size_t kPrefetchAhead = 8;
  const size_t n = batch.series.size();
  std::vector<uint64_t> hashes(n);
  auto hash_and_prefetch = [&](size_t i) VIGIL_REQUIRES(mu_) {
    hashes[i] = batch.series[i].labels.Hash();
    index_.Prefetch(hashes[i]);
  };
  for (size_t i = 0; i < std::min(kPrefetchAhead, n); ++i) hash_and_prefetch(i);
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) hash_and_prefetch(i + kPrefetchAhead);
    const model::Series& in = batch.series[i];
    if (in.samples.empty()) continue;
    bool is_new = false;
    MemSeries* series = GetOrCreate(in.labels, hashes[i], &is_new);
    if (is_new) created.push_back(series);
    if (series->append_group >= groups.size() ||
        groups[series->append_group].series != series) {  // its first group in this batch
      series->append_group = static_cast<uint32_t>(groups.size());
      BatchGroup& group = groups.emplace_back();
      group.series = series;
      group.series_id = series->id;
      group.series_in_db = series->in_db;
      group.series_logged_segment = series->logged_segment;
      group.newest = series->max_t();
    }
    Classify(in.samples, groups[series->append_group], /*replaying=*/false);
  }
  auto forget_created = [&]() VIGIL_REQUIRES(mu_) {
    // They were the newest ids, pushed last.
    while (!created.empty() && !without_row_.empty() &&
           without_row_.back() >= created.front()->id) {
      without_row_.pop_back();
    }
    for (MemSeries* series : created) ForgetSeries(series);
  };
  if (all_or_nothing) {
    uint64_t too_old = 0;
    const BatchGroup* first = nullptr;
    for (const BatchGroup& g : groups) {
      if (g.too_old > 0 && first == nullptr) first = &g;
      too_old += g.too_old;
    }
    if (too_old > 0) {
      forget_created();
      return store::RefusedSamplesError(
          model::Labels(first->series->labels()), first->first_too_old_ms, too_old,
          "is older than storage.out_of_order_window allows behind its series' newest sample "
          "(out of bounds)");
    }
  }
  std::vector<NewSeries> new_series;
  std::vector<SampleGroup> record_groups;
  uint64_t duplicates = 0, too_old = 0, accepted = 0;
  const uint64_t segment = wal_->NextRecordSegment();
  for (BatchGroup& g : groups) {
    if (Status status = DropStoredDuplicates(*g.series, g); !status.ok()) {
      forget_created();
      return status.Annotate("tsdb: check for duplicates");
    }
    duplicates += g.duplicates;
    too_old += g.too_old;
    accepted += g.in_order.size() + g.out_of_order.size();
    if (g.in_order.empty() && g.out_of_order.empty()) continue;
    // A series without a row in the series table is named in each segment that holds
    // its samples, so every segment can be read without the others; once the row is
    // written, the id is enough.
    if (!g.series_in_db && g.series_logged_segment != segment) {
      new_series.push_back({g.series_id, g.series->labels()});
    }
    if (!g.in_order.empty()) record_groups.push_back({g.series_id, g.in_order});
    if (!g.out_of_order.empty()) record_groups.push_back({g.series_id, g.out_of_order});
  }
  if (accepted > 0) {
    EncodeSamplesRecord(new_series, record_groups, &record_);
    if (Status status = wal_->Write(record_); !status.ok()) {
      forget_created();
      return status.Annotate("tsdb: write-ahead log");
    }
    VIGIL_CHECK(wal_->current_segment() == segment, "record in an unexpected log segment");
    if (record_.capacity() > kKeptRecordBytes) std::string().swap(record_);
    for (size_t i = 0; i < groups.size(); ++i) {
      if (i + kPrefetchAhead < groups.size()) {
        const auto* ahead = reinterpret_cast<const char*>(groups[i + kPrefetchAhead].series);
        __builtin_prefetch(ahead);  // the series spans three cache lines
        __builtin_prefetch(ahead + 64);
        __builtin_prefetch(ahead + 128);
      }
      BatchGroup& g = groups[i];
      if (!g.in_order.empty() || !g.out_of_order.empty()) {
        g.series->logged_segment = Segment32(segment);
      }
      Apply(*g.series, g, segment);
    }
  }
  stats_.duplicates += duplicates;
  stats_.too_old += too_old;
  appended_.Inc(static_cast<double>(accepted));
  duplicates_.Inc(static_cast<double>(duplicates));
  too_old_.Inc(static_cast<double>(too_old));

  if (clock_.NowMillis() - last_maintenance_ >= options_.maintenance_interval_ms) {
    // The batch is already durable in the log; a failure here is retried next time.
    Status status = MaintainLocked(/*force=*/false);
    if (!status.ok()) spdlog::error("tsdb: maintenance: {}", status.ToString());
  } else {
    RequestPersistIfDue();
  }
  return OkStatus();
}

void TsdbStore::RequestPersistIfDue() {
  const bool log_full = wal_->total_bytes() > options_.wal_max_bytes &&
                        wal_->current_segment() > released_log_before_;
  const bool due =
      log_full || closed_count_ >= options_.persist_chunks ||
      without_row_.size() >= options_.persist_chunks ||
      (closed_count_ > 0 && clock_.NowMillis() - oldest_closed_at_ >= options_.persist_interval_ms);
  if (!due) return;
  if (log_full) released_log_before_ = release_log_before_ = wal_->current_segment();
  if (persist_requested_ && !log_full) return;
  WakePersister();
}

void TsdbStore::WakePersister() {
  // The persister thread writes to SQLite beside the appends that follow.
  persist_requested_ = true;
  persist_wanted_.notify_one();
}

void TsdbStore::PersistLoop() {
  MutexLock lock(mu_);
  while (true) {
    persist_wanted_.wait(
        lock, [this]() VIGIL_REQUIRES(mu_) { return persist_requested_ || stop_persister_; });
    if (stop_persister_) return;
    persist_requested_ = false;
    // The open chunks that pin old log segments are cut a slice of series at a time, each
    // slice persisted before the next, so that no append waits for more than one slice's
    // cut or one batch's copy: every series' when the log is full; at each maintenance,
    // those of quiet series (nothing for kQuietMs of data time) and those of live series
    // too when they are few (one slice), so that the log a crash leaves holds little more
    // than the newest segment. Many live series (a million) wait for the log's cap.
    const uint64_t release_before = std::exchange(release_log_before_, 0);
    const bool cut_quiet = std::exchange(cut_quiet_heads_, false);
    const uint64_t current = wal_->current_segment();
    std::vector<uint64_t> pinning;
    if (release_before != 0 || cut_quiet) {
      const int64_t newest = std::min(newest_ms_, clock_.NowMillis());
      const int64_t quiet_before = newest > INT64_MIN + kQuietMs ? newest - kQuietMs : INT64_MIN;
      std::vector<uint64_t> live;
      ForEachSeries([&](const MemSeries& series) VIGIL_REQUIRES(mu_) {
        const uint64_t held = OldestSegmentHeld(series);
        if (held >= current) return;
        if (held < release_before || (cut_quiet && series.max_t() < quiet_before)) {
          pinning.push_back(series.id);
        } else if (cut_quiet) {
          live.push_back(series.id);
        }
      });
      if (live.size() <= kCutsPerLock) pinning.insert(pinning.end(), live.begin(), live.end());
    }
    Status status;
    bool persisted = false;
    size_t next_cut = 0;
    do {
      for (const size_t end = std::min(pinning.size(), next_cut + kCutsPerLock); next_cut < end;
           ++next_cut) {
        MemSeries* found = FindSeries(pinning[next_cut]);
        if (found == nullptr) continue;
        MemSeries& series = *found;
        if (series.has_head() && series.head_segment < current) CutHead(series);
        if (!series.out_of_order().empty() && series.waiting->out_of_order_segment < current) {
          CutOutOfOrder(series);
        }
      }
      PersistBatch batch = GatherClosed();
      if (batch.rows.empty() && batch.labels.empty()) continue;
      lock.unlock();
      status = WritePersistBatch(batch);
      lock.lock();
      if (status.ok()) status = DropPersisted(batch);
      persisted = true;
    } while (status.ok() && !stop_persister_ && next_cut < pinning.size());
    if (!status.ok()) spdlog::error("tsdb: persist closed chunks: {}", status.ToString());
    if (!status.ok() || !persisted || stop_persister_) continue;
    // Blocks that have ended are compacted beside appends (the lock is taken only to
    // count the rows each series lost).
    lock.unlock();
    status = CompactBlocksBefore(BlockOf(clock_.NowMillis()), options_.compact_groups_per_round);
    lock.lock();
    if (!status.ok()) spdlog::error("tsdb: compact blocks: {}", status.ToString());
  }
}

std::optional<ChunkRow> TsdbStore::MergeGroup(std::vector<ChunkRow>& rows,
                                              std::vector<TierRow>* tiers) {
  std::vector<Sample> samples;
  for (ChunkRow& row : rows) {
    const size_t before = samples.size();
    Status decoded = chunk::DecodeChunk(row.encoding, row.data, &samples);
    if (!decoded.ok()) {
      samples.resize(before);
      spdlog::error(
          "tsdb: compaction: chunk of series {} starting at {} ms unreadable ({}); kept "
          "as it is",
          row.series_id, row.min_t, decoded.message());
      row.encoding = 0;
    }
  }
  if (samples.empty()) return std::nullopt;
  // Out-of-order chunks overlap the others: merged here, once, in time order.
  Normalize(&samples);
  ChunkRow merged;
  merged.series_id = rows.front().series_id;
  merged.min_t = samples.front().timestamp_ms;
  merged.max_t = samples.back().timestamp_ms;
  merged.count = static_cast<int>(samples.size());
  merged.encoding = chunk::kBlockEncoding;
  merged.data = chunk::EncodeBlock(samples);
  std::vector<store::WindowSummary> summaries;
  for (const TierOptions& tier : options_.tiers) {
    summaries.clear();
    store::Summarize(samples, tier.resolution_ms, &summaries);
    if (summaries.empty()) continue;  // stale markers only
    tiers->push_back({merged.series_id, tier.resolution_ms, BlockOf(merged.min_t),
                      chunk::EncodeSummaries(summaries, tier.resolution_ms)});
  }
  return merged;
}

Status TsdbStore::CompactBlocksBefore(int64_t before_block, int64_t max_groups) {
  const auto started = std::chrono::steady_clock::now();
  int64_t groups_done = 0;
  while (groups_done < max_groups) {
    std::vector<ChunkGroup> groups;
    std::vector<int64_t> rows_removed;
    {
      MutexLock db(db_mu_);
      VIGIL_ASSIGN_OR_RETURN(groups, writer_db_->UncompactedGroups(INT64_MIN, before_block - 1,
                                                                   kCompactGroupsPerTransaction));
      if (groups.empty()) break;
      VIGIL_RETURN_IF_ERROR(writer_db_->Compact(
          groups,
          [this](std::vector<ChunkRow>& rows, std::vector<TierRow>* tiers) {
            return MergeGroup(rows, tiers);
          },
          &rows_removed));
    }
    groups_done += static_cast<int64_t>(groups.size());
    MutexLock lock(mu_);
    for (size_t g = 0; g < groups.size(); ++g) {
      if (MemSeries* series = FindSeries(groups[g].series_id)) {
        series->db_chunks -= static_cast<int32_t>(rows_removed[g]);
      }
    }
    stats_.compacted_groups += groups.size();
  }
  if (groups_done > 0) {
    {
      // Rows compacted away leave free pages: the next chunks reuse them, beyond half
      // the pages in use they go back to the file system.
      MutexLock db(db_mu_);
      VIGIL_RETURN_IF_ERROR(writer_db_->ReleaseFreePages(0.5));
    }
    compacted_.Inc(static_cast<double>(groups_done));
    compaction_seconds_.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  return OkStatus();
}

Status TsdbStore::Flush() {
  // Append already made the batch as durable as the policy promises; with `interval`,
  // this is one more chance to sync on time.
  if (options_.wal.fsync == wal::FsyncPolicy::kAlways) return OkStatus();
  MutexLock lock(mu_);
  if (closed_) return OkStatus();
  return wal_->SyncIfDue();
}

TsdbStore::PersistBatch TsdbStore::GatherClosed() {
  PersistBatch batch;
  batch.started = std::chrono::steady_clock::now();
  batch.seq_end = next_closed_seq_;
  batch.rows.reserve(closed_count_);
  batch.series = with_closed_;
  for (uint64_t id : with_closed_) {
    const MemSeries& series = *FindSeries(id);
    if (!series.in_db) batch.labels.emplace_back(id, model::Labels(series.labels()));
    for (const ClosedChunk& c : series.closed()) {
      batch.rows.push_back({id, c.min_t, c.max_t, c.count, chunk::kXorEncoding, c.data});
    }
  }
  // New series get their row before they have a chunk, so that the log need not name
  // their labels again in every segment.
  for (size_t i = 0; i < without_row_.size() && batch.labels.size() < kSeriesRowsPerPersist; ++i) {
    const MemSeries* series = FindSeries(without_row_[i]);
    if (series == nullptr || series->in_db || !series->closed().empty()) continue;
    batch.labels.emplace_back(series->id, model::Labels(series->labels()));
  }
  // In the table's key order: block, series, start.
  std::sort(batch.rows.begin(), batch.rows.end(), [](const ChunkRow& a, const ChunkRow& b) {
    return std::tuple(BlockOf(a.min_t), a.series_id, a.min_t) <
           std::tuple(BlockOf(b.min_t), b.series_id, b.min_t);
  });
  return batch;
}

Status TsdbStore::WritePersistBatch(const PersistBatch& batch) {
  std::vector<ChunkDb::NewSeriesRow> new_series;
  new_series.reserve(batch.labels.size());
  for (const auto& [id, labels] : batch.labels) new_series.push_back({id, &labels});
  MutexLock db(db_mu_);
  return writer_db_->Write(new_series, batch.rows).Annotate("persist chunks");
}

Status TsdbStore::DropPersisted(const PersistBatch& batch) {
  // Chunks closed before the batch was gathered are in SQLite now (a forced persist
  // meanwhile may have dropped them already); later ones stay.
  uint64_t dropped = 0;
  for (uint64_t id : batch.series) {
    MemSeries* found = FindSeries(id);
    if (found == nullptr) continue;
    MemSeries& series = *found;
    series.in_db = true;
    if (!series.waiting) continue;
    std::vector<ClosedChunk>& closed = series.waiting->closed;
    const auto end = std::find_if(closed.begin(), closed.end(),
                                  [&](const ClosedChunk& c) { return c.seq >= batch.seq_end; });
    const auto n = static_cast<uint64_t>(end - closed.begin());
    if (n == 0) continue;
    for (auto c = closed.begin(); c != end; ++c) {
      series.RaiseDbMaxT(c->max_t);
    }
    closed.erase(closed.begin(), end);
    series.FreeWaitingIfEmpty();
    series.db_chunks += static_cast<int32_t>(n);
    dropped += n;
  }
  std::erase_if(with_closed_, [&](uint64_t id) VIGIL_REQUIRES(mu_) {
    const MemSeries* series = FindSeries(id);
    return series == nullptr || series->closed().empty();
  });
  ReleaseSpareCapacity(with_closed_);
  if (!batch.labels.empty()) {
    for (const auto& [id, labels] : batch.labels) {
      if (MemSeries* series = FindSeries(id)) series->in_db = true;
    }
    std::erase_if(without_row_, [&](uint64_t id) VIGIL_REQUIRES(mu_) {
      const MemSeries* series = FindSeries(id);
      return series == nullptr || series->in_db;
    });
    ReleaseSpareCapacity(without_row_);
  }
  closed_count_ -= dropped;
  if (closed_count_ > 0) oldest_closed_at_ = clock_.NowMillis();
  stats_.persisted_chunks += dropped;
  persist_seconds_.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - batch.started).count());
  return DeleteUnneededSegments();
}

Status TsdbStore::PersistClosed() {
  if (closed_count_ == 0 && without_row_.empty()) return OkStatus();
  PersistBatch batch = GatherClosed();
  VIGIL_RETURN_IF_ERROR(WritePersistBatch(batch));
  return DropPersisted(batch);
}

uint64_t TsdbStore::OldestSegmentHeld(const MemSeries& series) {
  uint64_t held = UINT64_MAX;
  if (series.has_head()) held = series.head_segment;
  if (!series.out_of_order().empty()) held = std::min(held, series.waiting->out_of_order_segment);
  return held;
}

Status TsdbStore::DeleteUnneededSegments() {
  if (wal_->oldest_segment() == wal_->current_segment()) return OkStatus();  // nothing to delete
  uint64_t needed = wal_->current_segment();
  ForEachSeries([&](const MemSeries& series) {
    needed = std::min(needed, OldestSegmentHeld(series));
    for (const ClosedChunk& c : series.closed()) needed = std::min(needed, c.segment);
  });
  return wal_->DeleteSegmentsBefore(needed);
}

Status TsdbStore::ApplyRetention() {
  MutexLock db(db_mu_);
  const int64_t now = clock_.NowMillis();
  std::vector<uint64_t> deleted;  // the series of each chunk row deleted
  if (options_.retention_ms > 0) {
    VIGIL_ASSIGN_OR_RETURN(deleted, writer_db_->DeleteChunksBefore(now - options_.retention_ms));
  }
  if (options_.retention_bytes > 0) {
    // Sized by what the chunks hold plus a row's overhead, not by SQLite's pages: pages
    // emptied by deletes are only partly free until new rows fill them.
    for (int round = 0; round < 64; ++round) {
      VIGIL_ASSIGN_OR_RETURN(int64_t payload, writer_db_->ChunkBytes());
      VIGIL_ASSIGN_OR_RETURN(int64_t chunks, writer_db_->ChunkCount());
      const int64_t used =
          payload + chunks * kChunkRowOverhead + static_cast<int64_t>(wal_->total_bytes());
      if (used <= options_.retention_bytes || chunks == 0) break;
      const int64_t excess = used - options_.retention_bytes;
      const int64_t n = std::max<int64_t>(1, chunks * excess / used + 1);
      VIGIL_ASSIGN_OR_RETURN(std::vector<uint64_t> removed, writer_db_->DeleteOldestChunks(n));
      deleted.insert(deleted.end(), removed.begin(), removed.end());
      if (removed.empty()) break;
    }
  }
  for (uint64_t id : deleted) {
    if (MemSeries* series = FindSeries(id)) {
      --series->db_chunks;
      maybe_empty_.push_back(id);
    }
  }
  VIGIL_RETURN_IF_ERROR(ApplyTierRetention());
  if (!deleted.empty()) {
    stats_.retention_deleted_chunks += deleted.size();
    retention_deleted_.Inc(static_cast<double>(deleted.size()));
  }
  if (maybe_empty_.empty()) return OkStatus();
  // Series with nothing left, in the database or in memory, are forgotten.
  std::sort(maybe_empty_.begin(), maybe_empty_.end());
  maybe_empty_.erase(std::unique(maybe_empty_.begin(), maybe_empty_.end()), maybe_empty_.end());
  std::vector<uint64_t> gone;
  for (uint64_t id : maybe_empty_) {
    const MemSeries* found = FindSeries(id);
    if (found == nullptr) continue;
    const MemSeries& series = *found;
    if (series.db_chunks > 0 || series.has_head() || !series.out_of_order().empty() ||
        !series.closed().empty()) {
      continue;
    }
    VIGIL_ASSIGN_OR_RETURN(const bool tiered, writer_db_->HasTiers(id));
    if (!tiered) gone.push_back(id);
  }
  VIGIL_RETURN_IF_ERROR(writer_db_->DeleteSeries(gone));
  maybe_empty_.clear();
  for (uint64_t id : gone) ForgetSeries(FindSeries(id));
  if (!deleted.empty() || !gone.empty()) {
    spdlog::info("tsdb: retention deleted {} chunks and {} series", deleted.size(), gone.size());
  }
  return OkStatus();
}

Status TsdbStore::ApplyTierRetention() {
  std::vector<uint64_t> deleted;
  if (tier_retention_block_.empty()) {
    std::vector<int64_t> resolutions;
    for (const TierOptions& tier : options_.tiers) resolutions.push_back(tier.resolution_ms);
    VIGIL_ASSIGN_OR_RETURN(deleted, writer_db_->DeleteTiersNotIn(resolutions));
    tier_retention_block_.assign(options_.tiers.size(), INT64_MIN);
  }
  const int64_t now = clock_.NowMillis();
  for (size_t i = 0; i < options_.tiers.size(); ++i) {
    const TierOptions& tier = options_.tiers[i];
    if (tier.retention_ms <= 0) continue;
    // Whole blocks go, the last sample of each older than the retention.
    const int64_t before_block = BlockOf(now - tier.retention_ms);
    if (before_block <= tier_retention_block_[i]) continue;
    VIGIL_ASSIGN_OR_RETURN(std::vector<uint64_t> removed,
                           writer_db_->DeleteTiersBefore(tier.resolution_ms, before_block));
    deleted.insert(deleted.end(), removed.begin(), removed.end());
    tier_retention_block_[i] = before_block;
  }
  for (uint64_t id : deleted) {
    if (FindSeries(id) != nullptr) maybe_empty_.push_back(id);
  }
  if (!deleted.empty()) spdlog::info("tsdb: tier retention deleted {} rows", deleted.size());
  return OkStatus();
}

Status TsdbStore::MaintainLocked(bool force) {
  const int64_t now = clock_.NowMillis();
  if (force) {
    // Everything to SQLite now, so that every segment but the current one can go.
    ForEachSeries([&](MemSeries& series) VIGIL_REQUIRES(mu_) {
      CutHead(series);
      CutOutOfOrder(series);
    });
    VIGIL_RETURN_IF_ERROR(PersistClosed());
  } else {
    RequestPersistIfDue();
  }
  if (force || now - last_maintenance_ >= options_.maintenance_interval_ms) {
    last_maintenance_ = now;
    VIGIL_RETURN_IF_ERROR(ApplyRetention().Annotate("retention"));
    VIGIL_RETURN_IF_ERROR(DeleteUnneededSegments().Annotate("delete log segments"));
    // New series that never reached persist_chunks get their rows now, and quiet
    // series' open chunks that pin old segments are cut.
    const bool old_segments = wal_->oldest_segment() != wal_->current_segment();
    if (!force && (old_segments || !without_row_.empty())) {
      cut_quiet_heads_ = old_segments;
      WakePersister();
    }
    MutexLock db(db_mu_);
    auto database = writer_db_->DatabaseBytes();
    if (database.ok()) db_bytes_gauge_.Set(static_cast<double>(*database));
  }
  series_gauge_.Set(static_cast<double>(index_.size()));
  wal_bytes_gauge_.Set(static_cast<double>(wal_->total_bytes()));
  uint64_t head_chunks = closed_count_;
  ForEachSeries([&](const MemSeries& series) { head_chunks += series.has_head() ? 1 : 0; });
  head_chunks_gauge_.Set(static_cast<double>(head_chunks));
  return OkStatus();
}

Status TsdbStore::Maintain() {
  MutexLock lock(mu_);
  if (closed_) return OkStatus();
  VIGIL_RETURN_IF_ERROR(wal_->SyncIfDue());
  return MaintainLocked(/*force=*/false);
}

Status TsdbStore::PersistAll() {
  {
    MutexLock lock(mu_);
    if (closed_) return FailedPreconditionError("tsdb: closed");
    // A fresh segment, so that every segment with samples can go once they are persisted.
    VIGIL_RETURN_IF_ERROR(wal_->StartNextSegment());
    VIGIL_RETURN_IF_ERROR(MaintainLocked(/*force=*/true));
  }
  VIGIL_RETURN_IF_ERROR(CompactBlocksBefore(INT64_MAX, INT64_MAX));
  MutexLock db(db_mu_);
  return writer_db_->ReleaseFreePages(0);
}

Status TsdbStore::Close() {
  {
    MutexLock lock(mu_);
    if (closed_ || !wal_) return OkStatus();  // closed, or never opened
    stop_persister_ = true;
  }
  persist_wanted_.notify_all();
  std::call_once(persister_stopped_, [this] {
    if (persister_.joinable()) persister_.join();
  });
  Status status;
  {
    MutexLock lock(mu_);
    if (closed_) return OkStatus();
    // A clean stop cuts the heads and persists them, so that the log is empty and the
    // next open reads nothing; when that fails, the log keeps the samples.
    status = wal_->StartNextSegment();
    if (status.ok()) status = MaintainLocked(/*force=*/true);
  }
  // The current block's rows too, up to a round's worth (a larger store leaves the rest
  // to the persister after the next start).
  if (status.ok()) status = CompactBlocksBefore(INT64_MAX, options_.compact_groups_per_round);
  if (status.ok()) {
    MutexLock db(db_mu_);
    status = writer_db_->ReleaseFreePages(0);  // the folder a stopped store leaves is small
  }
  MutexLock lock(mu_);
  closed_ = true;
  Status synced = wal_->Sync();
  dir_lock_.reset();  // nothing more is written: another process may open the folder
  return status.ok() ? synced : status;
}

TsdbStats TsdbStore::stats() const {
  MutexLock lock(mu_);
  TsdbStats s = stats_;
  s.series = index_.size();
  s.head_chunks = closed_count_;
  s.series_without_row = without_row_.size();
  ForEachSeries([&](const MemSeries& series) { s.head_chunks += series.has_head() ? 1 : 0; });
  s.wal_bytes = wal_ ? wal_->total_bytes() : 0;
  s.tier_blocks_read = static_cast<uint64_t>(tier_blocks_read_.Value());
  return s;
}

Result<int64_t> TsdbStore::DiskBytes() {
  MutexLock lock(mu_);
  MutexLock db(db_mu_);
  VIGIL_ASSIGN_OR_RETURN(int64_t database, writer_db_->DatabaseBytes());
  return database + static_cast<int64_t>(wal_->total_bytes());
}

Result<int64_t> TsdbStore::RetainedBytes() {
  MutexLock lock(mu_);
  MutexLock db(db_mu_);
  VIGIL_ASSIGN_OR_RETURN(int64_t payload, writer_db_->ChunkBytes());
  VIGIL_ASSIGN_OR_RETURN(int64_t chunks, writer_db_->ChunkCount());
  return payload + chunks * kChunkRowOverhead + static_cast<int64_t>(wal_->total_bytes());
}

Status TsdbStore::ForEachSeries(const std::vector<model::Matcher>& matchers, int64_t start_ms,
                                int64_t end_ms, const store::StepPicks* picks,
                                std::vector<std::string>* warnings, const SeriesFn& transform,
                                const SeriesFn& fn) {
  // Picks past the end would want the last sample at or before it, which thinning a
  // block reaching past it may drop: such a read is not thinned (no selector asks it).
  if (picks != nullptr &&
      (picks->step <= 0 || (picks->count > 0 && picks->At(picks->count - 1) > end_ms))) {
    picks = nullptr;
  }
  SummariesFn samples_only;
  if (transform) {
    samples_only = [&](const model::Labels& labels, std::vector<Sample>& samples,
                       std::vector<store::WindowSummary>&) { return transform(labels, samples); };
  }
  return ReadSeries(matchers, start_ms, end_ms, 0, false, picks, warnings, samples_only, fn);
}

Status TsdbStore::ReadSeries(const std::vector<model::Matcher>& matchers, int64_t start_ms,
                             int64_t end_ms, int64_t resolution_ms, bool need_resets,
                             const store::StepPicks* picks, std::vector<std::string>* warnings,
                             const SummariesFn& transform, const SeriesFn& fn) {
  // Reads of samples from before the raw retention get, for the blocks it deleted, the
  // last sample of each window of the finest tier that still has them (as VictoriaMetrics
  // downsamples).
  const int64_t raw_kept_from =
      options_.retention_ms > 0 ? clock_.NowMillis() - options_.retention_ms : INT64_MIN;
  const bool read_old_tiers = resolution_ms == 0 && !options_.tiers.empty() &&
                              options_.retention_ms > 0 && start_ms < raw_kept_from;
  std::vector<SeriesSnapshot> snapshots;
  {
    MutexLock lock(mu_);
    for (uint64_t id : index_.Select(matchers)) {
      const MemSeries& series = *FindSeries(id);
      SeriesSnapshot snapshot;
      snapshot.id = id;
      snapshot.labels = model::Labels(series.labels());
      snapshot.in_db = series.in_db;
      if (series.has_head() && series.head.min_time() <= end_ms &&
          series.head.max_time() >= start_ms) {
        snapshot.chunks.emplace_back(series.head.bytes());
        snapshot.AddMemory(series.head.min_time(), series.head.max_time());
      }
      for (const ClosedChunk& c : series.closed()) {
        if (c.min_t <= end_ms && c.max_t >= start_ms) {
          snapshot.chunks.push_back(c.data);
          snapshot.AddMemory(c.min_t, c.max_t);
        }
      }
      for (const Sample& s : series.out_of_order()) {
        if (s.timestamp_ms >= start_ms && s.timestamp_ms <= end_ms) {
          snapshot.out_of_order.push_back(s);
          snapshot.AddMemory(s.timestamp_ms, s.timestamp_ms);
        }
      }
      if (!snapshot.in_db && snapshot.chunks.empty() && snapshot.out_of_order.empty()) continue;
      snapshots.push_back(std::move(snapshot));
    }
  }
  // Handed to fn in label order (store.h), read in that order.
  std::sort(snapshots.begin(), snapshots.end(),
            [](const SeriesSnapshot& a, const SeriesSnapshot& b) { return a.labels < b.labels; });
  // Persisted chunks are read for a run of series at a time in one read transaction (one
  // round of SQLite's locking, so that concurrent queries take turns), decoded and given
  // to `transform` outside the lock, then handed to fn, runs in the order they were
  // claimed. A large read has two threads at it, each doing whole runs: while one reads or
  // hands over, the other decodes. A run ends at kReadRunSeries series or kReadRunSamples
  // samples.
  constexpr size_t kReadRunSeries = 64;
  constexpr size_t kReadRunSamples = 1 << 17;
  constexpr size_t kParallelReadSamples = 1 << 15;  // a first run this large calls the helper
  struct Run {
    explicit Run(TsdbStore& store) : store(store) {
      // Decode buffers from the last reads: fresh pages cost a fault each.
      MutexLock pool(store.decode_pool_mu_);
      for (auto& slot : samples) {
        if (store.decode_pool_.empty()) break;
        slot.swap(store.decode_pool_.back());
        store.decode_pool_.pop_back();
      }
    }
    ~Run() {
      constexpr size_t kDecodePoolBytes = size_t{32} << 20;
      MutexLock pool(store.decode_pool_mu_);
      size_t bytes = 0;
      for (const auto& kept : store.decode_pool_) bytes += kept.capacity() * sizeof(Sample);
      for (auto& slot : samples) {
        bytes += slot.capacity() * sizeof(Sample);
        if (bytes > kDecodePoolBytes) break;
        store.decode_pool_.push_back(std::move(slot));
      }
    }
    TsdbStore& store;
    std::vector<Sample> samples[kReadRunSeries];
    // Each series' rows: in the blocks' rows the read keeps (the chunk cache's, unchanged,
    // not copied), or in `copied` when the read handed over a row of its own.
    std::vector<const ChunkRow*> rows[kReadRunSeries];
    std::vector<std::shared_ptr<const std::vector<ChunkRow>>> kept;
    std::deque<ChunkRow> copied;
    std::vector<TierRow> tier_rows[kReadRunSeries];
    std::vector<int64_t> tiered[kReadRunSeries];  // blocks read as tier rows, ascending
    std::vector<store::WindowSummary> summaries[kReadRunSeries];
    std::vector<std::pair<int64_t, std::string>> undecodable[kReadRunSeries];
    Status transformed[kReadRunSeries];
  };
  // With a tier: per series, the blocks holding a chunk row not compacted yet (then the
  // tier row does not hold all their samples), read after the snapshot of memory.
  std::unordered_map<uint64_t, std::set<int64_t>> uncompacted_blocks;
  if (resolution_ms > 0) {
    MutexLock lock(read_mu_);
    const int64_t first_t =
        start_ms >= INT64_MIN + MaxRowSpan() ? start_ms - MaxRowSpan() : INT64_MIN;
    VIGIL_ASSIGN_OR_RETURN(std::vector<ChunkGroup> groups,
                           reader_db_->UncompactedGroups(BlockOf(first_t), BlockOf(end_ms)));
    for (const ChunkGroup& group : groups) {
      // A row starts in its group's block and may reach MaxRowSpan past that block's start.
      for (int64_t b = group.block; b <= BlockOf(group.block * kBlockMs + MaxRowSpan() - 1); ++b) {
        uncompacted_blocks[group.series_id].insert(b);
      }
    }
  }
  size_t next_series = 0;  // the first not yet claimed by a run; guarded by read_mu_
  Mutex emit_mu;           // one run hands over at a time, in the snapshots' order:
  size_t emitted = 0;      // the snapshots handed over so far; guarded by emit_mu
  CondVar emit_turn;       // a run's turn comes when the runs before it are handed over
  std::atomic<bool> stop{false};
  auto stop_all = [&] {  // under emit_mu, so that a thread waiting for its turn sees it
    {
      MutexLock emit(emit_mu);
      stop = true;
    }
    emit_turn.notify_all();
  };
  HelperThread helper;  // started on the other CPU, not behind this thread
  Status helper_status;
  std::function<Status(Run&, bool)> work;  // a thread's loop: claim a run, read, decode, hand over
  work = [&](Run& run, bool main) -> Status {
    while (!stop.load()) {
      size_t run_start = 0, count = 0, read = 0;
      {
        MutexLock lock(read_mu_);
        if (next_series >= snapshots.size()) return OkStatus();
        run_start = next_series;
        run.kept.clear();  // the run before was handed over: nothing points at these now
        run.copied.clear();
        bool reading = false;
        // The first run stops at the size that calls the helper, so that it starts soon.
        const size_t run_samples =
            main && !helper.joinable() ? kParallelReadSamples : kReadRunSamples;
        while (next_series < snapshots.size() && count < kReadRunSeries && read < run_samples) {
          const SeriesSnapshot& snapshot = snapshots[next_series++];
          const size_t i = count++;
          run.rows[i].clear();
          run.tier_rows[i].clear();
          run.tiered[i].clear();
          run.summaries[i].clear();
          run.samples[i].clear();
          run.undecodable[i].clear();
          run.transformed[i] = OkStatus();
          if (!snapshot.in_db) continue;
          if (!reading) {
            VIGIL_RETURN_IF_ERROR(reader_db_->BeginRead());
            reading = true;
          }
          auto keep_tier_row = [&](TierRow& row) { run.tier_rows[i].push_back(std::move(row)); };
          auto bad_tier_row = [&](int64_t block, const std::string& reason) {
            run.undecodable[i].emplace_back(block * kBlockMs, "tier row: " + reason);
          };
          Status status;
          if (resolution_ms > 0) {
            // The blocks a tier row answers for: no sample of them in memory, no chunk
            // row but the compacted one the compactor wrote with the tier row (or none:
            // the raw retention took it). Their chunk rows are not read.
            status = reader_db_->ReadTiers(snapshot.id, resolution_ms, BlockOf(start_ms),
                                           BlockOf(end_ms), keep_tier_row, bad_tier_row);
            const auto uncompacted = uncompacted_blocks.find(snapshot.id);
            for (const TierRow& row : run.tier_rows[i]) {
              const bool in_memory = snapshot.memory_min_t <= snapshot.memory_max_t &&
                                     row.block >= BlockOf(snapshot.memory_min_t) &&
                                     row.block <= BlockOf(snapshot.memory_max_t);
              if (in_memory || (need_resets && !chunk::SummariesHaveResets(row.data)) ||
                  (uncompacted != uncompacted_blocks.end() &&
                   uncompacted->second.contains(row.block))) {
                continue;
              }
              run.tiered[i].push_back(row.block);
            }
          }
          const std::vector<int64_t>& tiered = run.tiered[i];
          if (status.ok()) {
            status = reader_db_->ReadChunks(
                snapshot.id, start_ms, end_ms, MaxRowSpan(),
                [&](const ChunkRow& row, const std::shared_ptr<const std::vector<ChunkRow>>& kept) {
                  read += static_cast<size_t>(std::max(row.count, 0));
                  if (kept == nullptr) {
                    run.rows[i].push_back(&run.copied.emplace_back(row));
                    return;
                  }
                  if (run.kept.empty() || run.kept.back() != kept) run.kept.push_back(kept);
                  run.rows[i].push_back(&row);
                },
                [&](int64_t min_t, const std::string& reason) {
                  run.undecodable[i].emplace_back(min_t, reason);
                },
                [&](int64_t block) {
                  return std::binary_search(tiered.begin(), tiered.end(), block);
                });
          }
          for (size_t t = 0; status.ok() && read_old_tiers && t < options_.tiers.size(); ++t) {
            status = reader_db_->ReadTiers(
                snapshot.id, options_.tiers[t].resolution_ms, BlockOf(start_ms),
                BlockOf(std::min(end_ms, raw_kept_from)), keep_tier_row, bad_tier_row);
          }
          if (!status.ok()) {
            (void)reader_db_->EndRead();
            return status;
          }
        }
        if (reading) VIGIL_RETURN_IF_ERROR(reader_db_->EndRead());
      }
      if (main && !helper.joinable() && read >= kParallelReadSamples) {
        helper = HelperThread([&] {
          Run own(*this);
          helper_status = work(own, false);
          if (!helper_status.ok()) stop_all();
        });
      }
      // Each series made ready for fn: its persisted chunks, head chunks and out-of-order
      // samples decoded and merged, trimmed to the range, given to the caller's transform.
      for (size_t i = 0; i < count && !stop.load(); ++i) {
        const SeriesSnapshot& snapshot = snapshots[run_start + i];
        std::vector<Sample>& samples = run.samples[i];
        std::vector<store::WindowSummary>& summaries = run.summaries[i];
        if (read_old_tiers && !run.tier_rows[i].empty()) {
          // Blocks with no chunk row and nothing in memory: the raw retention took them.
          std::set<int64_t> covered;
          if (snapshot.memory_min_t <= snapshot.memory_max_t) {
            for (int64_t b = BlockOf(snapshot.memory_min_t); b <= BlockOf(snapshot.memory_max_t);
                 ++b) {
              covered.insert(b);
            }
          }
          for (const ChunkRow* row : run.rows[i]) {
            for (int64_t b = BlockOf(row->min_t); b <= BlockOf(row->max_t); ++b) covered.insert(b);
          }
          for (const TierRow& row : run.tier_rows[i]) {  // the finest tier's first
            if (!covered.insert(row.block).second) continue;
            if (Status decoded = chunk::DecodeSummaries(row.data, row.resolution_ms, &summaries);
                !decoded.ok()) {
              run.undecodable[i].emplace_back(row.block * kBlockMs, decoded.message());
            }
          }
          store::MergePieces(&summaries);
          for (const store::WindowSummary& w : summaries) samples.push_back({w.last_ms, w.last});
          summaries.clear();
        }
        for (const TierRow& row : run.tier_rows[i]) {
          if (!std::binary_search(run.tiered[i].begin(), run.tiered[i].end(), row.block)) continue;
          if (Status decoded = chunk::DecodeSummaries(row.data, resolution_ms, &summaries);
              !decoded.ok()) {
            run.undecodable[i].emplace_back(row.block * kBlockMs, decoded.message());
          }
        }
        tier_blocks_read_.Inc(static_cast<double>(run.tiered[i].size()));
        // Each chunk decodes in strictly increasing time (its decoder checks), so the
        // whole is in order when each chunk starts after the one before it ends.
        bool in_order = true;
        auto follows = [&](size_t before) {
          in_order = in_order && (before == 0 || before == samples.size() ||
                                  samples[before].timestamp_ms > samples[before - 1].timestamp_ms);
        };
        for (const ChunkRow* row : run.rows[i]) {
          const size_t before = samples.size();
          Status decoded = chunk::DecodeChunk(row->encoding, row->data, &samples, picks);
          if (!decoded.ok()) {
            samples.resize(before);
            run.undecodable[i].emplace_back(row->min_t, decoded.message());
          }
          follows(before);
        }
        for (const std::string& bytes : snapshot.chunks) {
          const size_t before = samples.size();
          (void)chunk::DecodeXorChunk(bytes, &samples);  // written by us a moment ago
          follows(before);
        }
        if (!snapshot.out_of_order.empty()) {
          samples.insert(samples.end(), snapshot.out_of_order.begin(), snapshot.out_of_order.end());
          in_order = false;
        }
        if (!in_order) Normalize(&samples);
        Trim(&samples, start_ms, end_ms);
        if ((!samples.empty() || !summaries.empty()) && transform) {
          run.transformed[i] = transform(snapshot.labels, samples, summaries);
        }
      }
      MutexLock emit(emit_mu);
      emit_turn.wait(emit, [&] { return emitted == run_start || stop.load(); });
      for (size_t i = 0; i < count && !stop.load(); ++i) {
        const SeriesSnapshot& snapshot = snapshots[run_start + i];
        for (const auto& [min_t, reason] : run.undecodable[i]) {
          corrupt_chunks_.Inc();
          {
            MutexLock stats_lock(mu_);
            ++stats_.corrupt_chunks;
          }
          warnings->push_back("series " + snapshot.labels.ToString() + ": chunk starting at " +
                              std::to_string(min_t) + " ms unreadable (" + reason + "); skipped");
        }
        VIGIL_RETURN_IF_ERROR(run.transformed[i]);
        if (run.samples[i].empty()) continue;
        VIGIL_RETURN_IF_ERROR(fn(snapshot.labels, run.samples[i]));
      }
      emitted = run_start + count;
      emit_turn.notify_all();
    }
    return OkStatus();
  };
  Status status;
  {
    Run run(*this);
    status = work(run, true);
  }
  if (!status.ok()) stop_all();
  if (helper.joinable()) helper.join();
  return status.ok() ? helper_status : status;
}

Result<store::SelectResult> TsdbStore::Select(const std::vector<model::Matcher>& matchers,
                                              int64_t start_ms, int64_t end_ms) {
  store::SelectResult result;
  int64_t points = 0;
  VIGIL_RETURN_IF_ERROR(
      ForEachSeries(matchers, start_ms, end_ms, nullptr, &result.warnings, nullptr,
                    [&](const model::Labels& labels, std::vector<Sample>& samples) -> Status {
                      points += static_cast<int64_t>(samples.size());
                      if (points > options_.max_points)
                        return store::TooManyPointsError(options_.max_points);
                      result.series.push_back({labels, samples});
                      return OkStatus();
                    }));
  std::sort(result.series.begin(), result.series.end(),
            [](const auto& a, const auto& b) { return a.labels < b.labels; });
  return result;
}

Result<store::SelectResult> TsdbStore::Aggregate(const store::AggregateQuery& query) {
  if (query.step_ms <= 0) return InvalidArgumentError("step must be > 0");
  if (store::StepCount(query) > options_.max_points) {
    return store::TooManyPointsError(options_.max_points);
  }
  const int64_t window = query.window_ms > 0 ? query.window_ms : query.step_ms;
  // The coarsest tier whose summaries make up every window, if any.
  int64_t resolution_ms = 0;
  for (const TierOptions& tier : options_.tiers) {
    if (store::SummariesAnswer(query, tier.resolution_ms)) resolution_ms = tier.resolution_ms;
  }
  store::SelectResult result;
  int64_t points = 0;
  const bool need_resets = query.function == store::Aggregation::kRate ||
                           query.function == store::Aggregation::kIncrease;
  VIGIL_RETURN_IF_ERROR(ReadSeries(
      query.matchers, query.start_ms - window + 1, query.end_ms, resolution_ms, need_resets,
      /*picks=*/nullptr, &result.warnings,
      [&](const model::Labels&, std::vector<Sample>& samples,
          std::vector<store::WindowSummary>& summaries) -> Status {
        // In the reading threads; assigned, so the vector keeps its room for the next read.
        std::vector<Sample> steps;
        if (summaries.empty()) {  // no block read as tier rows: the samples' own answer
          steps = store::EvaluateSteps(query, samples);
        } else {
          // The other blocks' samples summarized alike, then all in time order (a window
          // cut by a block's end has a piece on each side).
          store::Summarize(samples, resolution_ms, &summaries);
          store::MergePieces(&summaries);
          steps = store::EvaluateSummarySteps(query, summaries);
        }
        samples.assign(steps.begin(), steps.end());
        return OkStatus();
      },
      [&](const model::Labels& labels, std::vector<Sample>& steps) -> Status {
        points += static_cast<int64_t>(steps.size());
        if (points > options_.max_points) return store::TooManyPointsError(options_.max_points);
        result.series.push_back({labels, steps});
        return OkStatus();
      }));
  std::sort(result.series.begin(), result.series.end(),
            [](const auto& a, const auto& b) { return a.labels < b.labels; });
  return result;
}

Result<std::vector<model::Labels>> TsdbStore::Series(const std::vector<model::Matcher>& matchers) {
  MutexLock lock(mu_);
  std::vector<model::Labels> out;
  for (uint64_t id : index_.Select(matchers)) out.emplace_back(FindSeries(id)->labels());
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> TsdbStore::LabelNames(
    const std::vector<model::Matcher>& matchers) {
  MutexLock lock(mu_);
  return index_.LabelNames(matchers);
}

Result<std::vector<std::string>> TsdbStore::LabelValues(
    const std::string& name, const std::vector<model::Matcher>& matchers) {
  MutexLock lock(mu_);
  return index_.LabelValues(name, matchers);
}

}  // namespace vigil::tsdb
