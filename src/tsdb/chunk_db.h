// ChunkDb is the embedded store's persistent part: one SQLite database (WAL journal
// mode) with a `series` table (id, labels as JSON) and a `chunks` table (one row per
// closed chunk with a CRC-32C of its bytes), so users can inspect the store with the
// `sqlite3` shell. Chunks are keyed by 2-hour block first, then series and start time:
// samples arrive in time order, so new rows fill the end of the tree instead of one page
// per series. The compactor replaces a series' XOR chunks of a block by one compacted
// row. docs/storage.md has the schema; older formats are converted at open.
//
// Thread safety: one ChunkDb per thread at a time; the store opens one for writing and
// one for reading (SQLite's WAL mode lets a reader run beside the writer). The two share
// a ChunkCache: the reader reads through it, the writer tells it what each write changes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "model/labels.h"

// SQLite's two handles, declared as sqlite3.h declares them, so that SQLite stays inside
// this module: only its .cc files include sqlite3.h.
typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;

namespace vigil::tsdb {

// Chunk rows are keyed by the block of their min_t: FloorDiv(min_t, kBlockMs).
inline constexpr int64_t kBlockMs = 2 * 3'600'000;
int64_t BlockOf(int64_t t_ms);

struct ChunkRow {
  uint64_t series_id = 0;
  int64_t min_t = 0;
  int64_t max_t = 0;
  int count = 0;
  // 1: a XOR chunk (docs/format/chunk.md), 2: a compacted block (docs/format/block.md),
  // 0: found damaged by the compactor and kept as it was.
  int encoding = 1;
  std::string data;
};

// A row of a downsampled tier: one series' window summaries of one resolution over one
// 2-hour block (docs/format/tier.md), written by the compactor beside the block's row.
struct TierRow {
  uint64_t series_id = 0;
  int64_t resolution_ms = 0;
  int64_t block = 0;
  std::string data;
};

// The rows of one series in one 2-hour block: what the compactor merges into one row.
struct ChunkGroup {
  int64_t block = 0;
  uint64_t series_id = 0;
};

class ChunkCache;

class ChunkDb {
 public:
  // Creates the schema when absent and converts a format-1 database. `read_only` opens
  // for queries only (after a writer has opened the file). FailedPrecondition for a
  // database of a newer format. With a `cache`, a read-only ChunkDb reads chunk rows
  // through it and a writer tells it what each of its writes changes; it must outlive
  // the ChunkDb.
  static Result<std::unique_ptr<ChunkDb>> Open(const std::string& path, bool read_only,
                                               ChunkCache* cache = nullptr);
  ~ChunkDb();

  // Every series row, in id order. Rows whose labels do not parse are reported through
  // `bad` and skipped.
  Status LoadSeries(const std::function<void(uint64_t id, model::Labels labels)>& fn,
                    const std::function<void(uint64_t id, std::string reason)>& bad);
  // Per series with chunks: the newest max_t and the number of chunk rows.
  Status LoadChunkCounts(const std::function<void(uint64_t id, int64_t max_t, int64_t chunks)>& fn);

  // One transaction: the series rows (insert or ignore), the chunks (insert or replace).
  struct NewSeriesRow {
    uint64_t id;
    const model::Labels* labels;
  };
  Status Write(const std::vector<NewSeriesRow>& series, const std::vector<ChunkRow>& chunks);

  // How a read hands over a row. When `kept` is set the row is one of *kept (its block's
  // rows, as the chunk cache holds them, never changed): the reader may point at it for
  // as long as it holds `kept`, instead of copying its bytes. Otherwise the row lives only
  // during the call.
  using RowFn = std::function<void(const ChunkRow& row,
                                   const std::shared_ptr<const std::vector<ChunkRow>>& kept)>;
  // Chunks of a series that may hold samples in [start, end]: min_t in
  // (start - max_span, end] and max_t >= start, by min_t. A row whose CRC does not match
  // is reported through `bad` (with its min_t) and skipped. One lookup per block that
  // holds any chunk in that range.
  // Inside BeginRead … EndRead it joins that transaction instead of opening its own.
  // Blocks for which `skip_block` says true are not read.
  Status ReadChunks(uint64_t series_id, int64_t start_ms, int64_t end_ms, int64_t max_span_ms,
                    const RowFn& fn,
                    const std::function<void(int64_t min_t, std::string reason)>& bad,
                    const std::function<bool(int64_t block)>& skip_block = nullptr);
  // Up to `limit` (block, series) groups in [first_block, last_block] that hold a XOR
  // chunk row (not compacted yet), ascending; from the partial index chunks_to_compact,
  // without a scan.
  Result<std::vector<ChunkGroup>> UncompactedGroups(int64_t first_block, int64_t last_block,
                                                    int64_t limit = INT64_MAX);
  // One read transaction for many ReadChunks calls: one snapshot, and one round of
  // SQLite's file locking instead of one per series.
  Status BeginRead();
  Status EndRead();

  // One transaction: each group's readable rows are handed to `merge`, which returns the
  // row that replaces them (or nothing to leave the group alone) and sets encoding 0 on
  // rows it could not read: those stay as they are, out of later compactions, as do rows
  // whose checksum does not match. With the row, `merge` may add the group's tier rows,
  // which replace the group's earlier ones. `rows_removed` gets, per group, how many rows
  // it lost.
  using MergeFn =
      std::function<std::optional<ChunkRow>(std::vector<ChunkRow>& rows, std::vector<TierRow>*)>;
  Status Compact(const std::vector<ChunkGroup>& groups, const MergeFn& merge,
                 std::vector<int64_t>* rows_removed);

  // The tier rows of a series at one resolution for blocks in [first_block, last_block],
  // by block. A row whose CRC does not match is reported through `bad` and skipped.
  // Inside BeginRead … EndRead it joins that transaction.
  Status ReadTiers(uint64_t series_id, int64_t resolution_ms, int64_t first_block,
                   int64_t last_block, const std::function<void(TierRow& row)>& fn,
                   const std::function<void(int64_t block, std::string reason)>& bad);
  // Tier retention: deletes the rows of `resolution_ms` before `before_block`, and every
  // row of a resolution not in `resolutions` (a tier no longer configured); returns the
  // series id of each row deleted.
  Result<std::vector<uint64_t>> DeleteTiersBefore(int64_t resolution_ms, int64_t before_block);
  Result<std::vector<uint64_t>> DeleteTiersNotIn(const std::vector<int64_t>& resolutions);
  // Whether a series has any tier row (it is kept while it does).
  Result<bool> HasTiers(uint64_t series_id);

  // Retention: deletes chunks whose max_t < `before_ms`; returns the series id of each
  // row deleted.
  Result<std::vector<uint64_t>> DeleteChunksBefore(int64_t before_ms);
  // Deletes the `n` oldest chunks (oldest block first, then by max_t); returns the
  // series id of each row deleted.
  Result<std::vector<uint64_t>> DeleteOldestChunks(int64_t n);
  // Deletes these series rows (the caller knows they have no chunk left).
  Status DeleteSeries(const std::vector<uint64_t>& ids);
  // Sum of the chunk rows' data bytes (kept in the meta table, updated with each write).
  Result<int64_t> ChunkBytes();
  // The database's size as SQLite sees it (pages × page size, pages still in SQLite's
  // own -wal file included; free pages included, as they stay in the file for reuse).
  Result<int64_t> DatabaseBytes();
  Result<int64_t> ChunkCount();
  // Gives free pages back to the file system (truncating the file) while more than
  // keep_fraction × the pages in use are free; pages freed by compaction are otherwise
  // kept for new rows. Only for databases created with incremental auto-vacuum (by this
  // version); older ones keep their size.
  Status ReleaseFreePages(double keep_fraction);

  const std::string& path() const { return path_; }

 private:
  ChunkDb(sqlite3* db, std::string path, bool read_only, ChunkCache* cache)
      : db_(db), path_(std::move(path)), read_only_(read_only), cache_(cache) {}
  Status Exec(const char* sql);
  Result<sqlite3_stmt*> Prepare(const char* sql);
  Status Error(std::string_view what) const;
  // Ends the open write transaction: adds delta to the chunk bytes and commits, or rolls
  // back when either fails.
  Status CommitAddingChunkBytes(int64_t delta);
  // ReadChunks' work inside its read transaction: min_t in (after, end].
  Status ReadBlocks(uint64_t series_id, int64_t after, int64_t start_ms, int64_t end_ms,
                    int64_t last_block, const RowFn& fn,
                    const std::function<void(int64_t min_t, std::string reason)>& bad,
                    const std::function<bool(int64_t block)>& skip_block);
  // Reads every row of a series' block (read_block_), gives those in range to fn and
  // keeps them all in the cache. Returns how many rows the block holds; -1 after an error
  // (in *status).
  int ReadBlockToCache(uint64_t series_id, int64_t block, int64_t after, int64_t start_ms,
                       int64_t end_ms, const RowFn& fn,
                       const std::function<void(int64_t min_t, std::string reason)>& bad,
                       Status* status);
  // Rewrites a format-1 chunks table (keyed by series first) in the format-2 layout.
  Status ConvertFromFormat1();
  // Runs a bound DELETE … RETURNING series_id, length(data) in a transaction.
  Result<std::vector<uint64_t>> DeleteChunks(sqlite3_stmt* statement);

  sqlite3* db_;
  std::string path_;
  const bool read_only_;
  ChunkCache* const cache_;
  uint64_t read_epoch_ = 0;                     // the cache's, taken as the read transaction began
  uint64_t cache_hits_ = 0, cache_misses_ = 0;  // of this read, for CountFinds
  std::vector<std::pair<int64_t, std::shared_ptr<const std::vector<ChunkRow>>>>
      cached_blocks_;                                // ReadBlocks's, room kept
  std::map<std::string, sqlite3_stmt*> statements_;  // by SQL text, finalized at close
  sqlite3_stmt* insert_series_ = nullptr;
  sqlite3_stmt* insert_chunk_ = nullptr;
  sqlite3_stmt* read_chunks_ = nullptr;
  sqlite3_stmt* next_block_ = nullptr;
  sqlite3_stmt* read_block_ = nullptr;
  sqlite3_stmt* read_tiers_ = nullptr;
};

}  // namespace vigil::tsdb
