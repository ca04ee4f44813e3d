#include "tsdb/chunk_db.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <tuple>

#include "core/crc32c.h"
#include "model/json_values.h"
#include "tsdb/chunk_cache.h"

namespace vigil::tsdb {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES ('format', '5');
INSERT OR IGNORE INTO meta(key, value) VALUES ('chunk_bytes', '0');
CREATE TABLE IF NOT EXISTS series(
  id INTEGER PRIMARY KEY,
  labels TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS tiers(
  series_id INTEGER NOT NULL,
  resolution_ms INTEGER NOT NULL,
  block INTEGER NOT NULL,
  crc INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(series_id, resolution_ms, block)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tiers_by_block ON tiers(resolution_ms, block);
)sql";

// The chunks table of format 2, under `name` (the conversion builds it beside format 1's).
std::string ChunksTableSql(std::string_view name) {
  return "CREATE TABLE IF NOT EXISTS " + std::string(name) + R"sql((
  block INTEGER NOT NULL,
  series_id INTEGER NOT NULL,
  min_t INTEGER NOT NULL,
  max_t INTEGER NOT NULL,
  count INTEGER NOT NULL,
  encoding INTEGER NOT NULL,
  crc INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(block, series_id, min_t)
) WITHOUT ROWID;
)sql";
}

// Format 3 adds compacted rows (encoding 2) and the index of groups still to compact;
// format 4 compacted rows of encoding 3 (an older vigil could not read them); format 5 the
// tiers table (an older vigil would keep series whose tier rows it cannot see); format 6
// compacted rows of encoding 4; format 7 of encoding 5; format 8 of encoding 6.
constexpr int kFormat = 8;
constexpr const char* kCompactionIndex =
    "CREATE INDEX IF NOT EXISTS chunks_to_compact ON chunks(block, series_id) "
    "WHERE encoding = 1";

// Tells the cache (if any) that a write begins, `begin(cache)` saying what it changes, and
// that it has ended when the scope does: after its COMMIT or ROLLBACK.
class CacheWriteScope {
 public:
  template <typename Begin>
  CacheWriteScope(ChunkCache* cache, Begin&& begin) : cache_(cache) {
    if (cache_ != nullptr) begin(*cache_);
  }
  ~CacheWriteScope() {
    if (cache_ != nullptr) cache_->WriteEnds();
  }
  CacheWriteScope(const CacheWriteScope&) = delete;
  CacheWriteScope& operator=(const CacheWriteScope&) = delete;

 private:
  ChunkCache* const cache_;
};

// Resets a statement when the scope ends, so it can be reused.
class StatementScope {
 public:
  explicit StatementScope(sqlite3_stmt* s) : s_(s) {}
  ~StatementScope() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

 private:
  sqlite3_stmt* s_;
};

}  // namespace

int64_t BlockOf(int64_t t_ms) { return t_ms / kBlockMs - ((t_ms % kBlockMs != 0) && (t_ms < 0)); }

namespace {
// Binds a row to an INSERT INTO chunks(block, series_id, min_t, max_t, count, encoding,
// crc, data) and runs it; false when SQLite refuses it. The row's block is its min_t's.
bool InsertChunk(sqlite3_stmt* insert, const ChunkRow& row) {
  StatementScope scope(insert);
  sqlite3_bind_int64(insert, 1, BlockOf(row.min_t));
  sqlite3_bind_int64(insert, 2, static_cast<int64_t>(row.series_id));
  sqlite3_bind_int64(insert, 3, row.min_t);
  sqlite3_bind_int64(insert, 4, row.max_t);
  sqlite3_bind_int(insert, 5, row.count);
  sqlite3_bind_int(insert, 6, row.encoding);
  sqlite3_bind_int64(insert, 7, crc32c::Value(row.data));
  sqlite3_bind_blob(insert, 8, row.data.data(), static_cast<int>(row.data.size()), SQLITE_STATIC);
  return sqlite3_step(insert) == SQLITE_DONE;
}

// Copies the blob in column `data_column` of the current row to `*out`; false when its
// CRC-32C is not the one in column `crc_column`.
bool ReadCheckedBlob(sqlite3_stmt* s, int crc_column, int data_column, std::string* out) {
  const auto crc = static_cast<uint32_t>(sqlite3_column_int64(s, crc_column));
  const auto* blob = static_cast<const char*>(sqlite3_column_blob(s, data_column));
  out->assign(blob ? blob : "", static_cast<size_t>(sqlite3_column_bytes(s, data_column)));
  return crc32c::Value(*out) == crc;
}

// The row a SELECT min_t, max_t, count, encoding, crc, data … is on; false when its data
// fails its checksum.
bool ReadChunkRow(sqlite3_stmt* s, ChunkRow* row) {
  row->min_t = sqlite3_column_int64(s, 0);
  row->max_t = sqlite3_column_int64(s, 1);
  row->count = sqlite3_column_int(s, 2);
  row->encoding = sqlite3_column_int(s, 3);
  return ReadCheckedBlob(s, 4, 5, &row->data);
}
}  // namespace

Result<std::unique_ptr<ChunkDb>> ChunkDb::Open(const std::string& path, bool read_only,
                                               ChunkCache* cache) {
  sqlite3* db = nullptr;
  // A reader opens read-write without create: SQLite's WAL mode needs to write the -shm
  // file even to read; query_only keeps it from changing the database.
  const int flags = read_only ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return UnavailableError("open " + path + ": " + message);
  }
  std::unique_ptr<ChunkDb> chunk_db(new ChunkDb(db, path, read_only, cache));
  sqlite3_busy_timeout(db, 5000);
  if (read_only) {
    VIGIL_RETURN_IF_ERROR(chunk_db->Exec("PRAGMA query_only=1"));
    // Queries read pages from the kernel's cache in place rather than copying each
    // through pread (a fifth of a short query's time) and a page cache that every
    // commit of the writer empties.
    VIGIL_RETURN_IF_ERROR(chunk_db->Exec("PRAGMA mmap_size=68719476736"));
  } else {
    // page_size and auto_vacuum only take effect on a new database; 8 KiB pages hold many
    // chunk rows; incremental auto-vacuum lets the compactor give freed pages back.
    VIGIL_RETURN_IF_ERROR(chunk_db->Exec("PRAGMA page_size=8192"));
    VIGIL_RETURN_IF_ERROR(chunk_db->Exec("PRAGMA auto_vacuum=INCREMENTAL"));
    VIGIL_RETURN_IF_ERROR(chunk_db->Exec("PRAGMA journal_mode=WAL"));
    // FULL: a commit is on disk before the store deletes the log segments it replaces.
    VIGIL_RETURN_IF_ERROR(chunk_db->Exec("PRAGMA synchronous=FULL"));
    VIGIL_RETURN_IF_ERROR(chunk_db->Exec(kSchema));
    VIGIL_RETURN_IF_ERROR(chunk_db->Exec(ChunksTableSql("chunks").c_str()));
    VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * format,
                           chunk_db->Prepare("SELECT CAST(value AS INTEGER) FROM meta "
                                             "WHERE key = 'format'"));
    int version = 0;
    {
      StatementScope scope(format);
      if (sqlite3_step(format) != SQLITE_ROW) return chunk_db->Error(path + ": read format");
      version = sqlite3_column_int(format, 0);
    }
    if (version > kFormat) {
      return FailedPreconditionError(path + ": format " + std::to_string(version) +
                                     " is newer than this vigil reads (" + std::to_string(kFormat) +
                                     ")");
    }
    if (version < 2) VIGIL_RETURN_IF_ERROR(chunk_db->ConvertFromFormat1().Annotate(path));
    VIGIL_RETURN_IF_ERROR(chunk_db->Exec(kCompactionIndex));
    if (version < kFormat) {
      const std::string update =
          "UPDATE meta SET value = '" + std::to_string(kFormat) + "' WHERE key = 'format'";
      VIGIL_RETURN_IF_ERROR(chunk_db->Exec(update.c_str()));
    }
    VIGIL_ASSIGN_OR_RETURN(
        chunk_db->insert_series_,
        chunk_db->Prepare("INSERT OR IGNORE INTO series(id, labels) VALUES(?,?)"));
    VIGIL_ASSIGN_OR_RETURN(
        chunk_db->insert_chunk_,
        chunk_db->Prepare("INSERT OR IGNORE INTO chunks(block, series_id, min_t, max_t, "
                          "count, encoding, crc, data) VALUES(?,?,?,?,?,?,?,?)"));
  }
  VIGIL_ASSIGN_OR_RETURN(
      chunk_db->read_chunks_,
      chunk_db->Prepare(
          "SELECT min_t, max_t, count, encoding, crc, data FROM chunks WHERE block = ? "
          "AND series_id = ? AND min_t > ? AND min_t <= ? AND max_t >= ? "
          "ORDER BY min_t"));
  VIGIL_ASSIGN_OR_RETURN(
      chunk_db->next_block_,
      chunk_db->Prepare("SELECT block FROM chunks WHERE block >= ? ORDER BY block LIMIT 1"));
  VIGIL_ASSIGN_OR_RETURN(chunk_db->read_block_,
                         chunk_db->Prepare("SELECT min_t, max_t, count, encoding, crc, data FROM "
                                           "chunks WHERE block = ? AND series_id = ? ORDER BY "
                                           "min_t"));
  VIGIL_ASSIGN_OR_RETURN(chunk_db->read_tiers_,
                         chunk_db->Prepare("SELECT block, crc, data FROM tiers WHERE series_id = ? "
                                           "AND resolution_ms = ? AND block BETWEEN ? AND ? "
                                           "ORDER BY block"));
  return chunk_db;
}

ChunkDb::~ChunkDb() {
  for (auto& [sql, s] : statements_) sqlite3_finalize(s);
  sqlite3_close(db_);
}

Status ChunkDb::Error(std::string_view what) const {
  const int code = sqlite3_errcode(db_);
  std::string message = std::string(what) + ": " + sqlite3_errmsg(db_);
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) return DataLossError(message);
  return UnavailableError(message);
}

Status ChunkDb::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return UnavailableError(path_ + ": " + message);
  }
  return OkStatus();
}

Result<sqlite3_stmt*> ChunkDb::Prepare(const char* sql) {
  if (auto it = statements_.find(sql); it != statements_.end()) return it->second;
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) !=
      SQLITE_OK) {
    return Error(path_ + ": prepare");
  }
  statements_.emplace(sql, statement);
  return statement;
}

Status ChunkDb::ConvertFromFormat1() {
  // Floor division in SQL (its `/` truncates), as BlockOf does.
  const std::string block = "(min_t - ((min_t % " + std::to_string(kBlockMs) + ") + " +
                            std::to_string(kBlockMs) + ") % " + std::to_string(kBlockMs) + ") / " +
                            std::to_string(kBlockMs);
  const std::string sql = "BEGIN IMMEDIATE;" + ChunksTableSql("chunks_format2") +
                          "INSERT INTO chunks_format2 SELECT " + block +
                          ", series_id, min_t, max_t, count, encoding, crc, data FROM chunks;"
                          "DROP TABLE chunks;"
                          "ALTER TABLE chunks_format2 RENAME TO chunks;"
                          "UPDATE meta SET value = '2' WHERE key = 'format';"
                          "COMMIT;";
  if (Status status = Exec(sql.c_str()); !status.ok()) {
    (void)Exec("ROLLBACK");
    return status.Annotate("convert chunks to format 2");
  }
  return OkStatus();
}

Status ChunkDb::LoadSeries(const std::function<void(uint64_t, model::Labels)>& fn,
                           const std::function<void(uint64_t, std::string)>& bad) {
  VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare("SELECT id, labels FROM series ORDER BY id"));
  StatementScope scope(s);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const auto id = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
    auto labels = model::LabelsFromJsonText(text ? std::string_view(text) : std::string_view());
    if (labels.ok()) {
      fn(id, *std::move(labels));
    } else {
      bad(id, labels.status().message());
    }
  }
  if (rc != SQLITE_DONE) return Error("load series");
  return OkStatus();
}

Status ChunkDb::LoadChunkCounts(const std::function<void(uint64_t, int64_t, int64_t)>& fn) {
  VIGIL_ASSIGN_OR_RETURN(
      sqlite3_stmt * s,
      Prepare("SELECT series_id, MAX(max_t), COUNT(*) FROM chunks GROUP BY series_id"));
  StatementScope scope(s);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    fn(static_cast<uint64_t>(sqlite3_column_int64(s, 0)), sqlite3_column_int64(s, 1),
       sqlite3_column_int64(s, 2));
  }
  if (rc != SQLITE_DONE) return Error("load chunk counts");
  return OkStatus();
}

Status ChunkDb::Write(const std::vector<NewSeriesRow>& series,
                      const std::vector<ChunkRow>& chunks) {
  CacheWriteScope cached(cache_, [&](ChunkCache& cache) {
    cache.WriteBegins(chunks, [](const ChunkRow& chunk) {
      return ChunkCache::Pair{chunk.series_id, BlockOf(chunk.min_t)};
    });
  });
  VIGIL_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto fail = [&](std::string_view what) {
    Status status = Error(what);
    (void)Exec("ROLLBACK");
    return status;
  };
  for (const NewSeriesRow& row : series) {
    StatementScope scope(insert_series_);
    const std::string json = model::LabelsJsonText(*row.labels);
    sqlite3_bind_int64(insert_series_, 1, static_cast<int64_t>(row.id));
    sqlite3_bind_text(insert_series_, 2, json.data(), static_cast<int>(json.size()), SQLITE_STATIC);
    if (sqlite3_step(insert_series_) != SQLITE_DONE) return fail("insert series");
  }
  for (const ChunkRow& chunk : chunks) {
    if (!InsertChunk(insert_chunk_, chunk)) return fail("insert chunk");
  }
  int64_t added = 0;
  for (const ChunkRow& chunk : chunks) added += static_cast<int64_t>(chunk.data.size());
  return CommitAddingChunkBytes(added);
}

Status ChunkDb::BeginRead() {
  // Before the transaction's first statement takes its snapshot: a write that begins
  // after this keeps the rows read from going into the cache.
  if (cache_ != nullptr) read_epoch_ = cache_->Epoch();
  VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * begin, Prepare("BEGIN"));
  StatementScope scope(begin);
  if (sqlite3_step(begin) != SQLITE_DONE) return Error("begin reading chunks");
  return OkStatus();
}

Status ChunkDb::EndRead() {
  if (cache_ != nullptr) {
    cache_->CountFinds(cache_hits_, cache_misses_);
    cache_hits_ = cache_misses_ = 0;
  }
  VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * commit, Prepare("COMMIT"));
  StatementScope scope(commit);
  if (sqlite3_step(commit) != SQLITE_DONE) return Error("end reading chunks");
  return OkStatus();
}

Status ChunkDb::ReadChunks(uint64_t series_id, int64_t start_ms, int64_t end_ms,
                           int64_t max_span_ms, const RowFn& fn,
                           const std::function<void(int64_t, std::string)>& bad,
                           const std::function<bool(int64_t)>& skip_block) {
  // min_t in (start - max_span, end], without overflow at the ends of the range.
  const int64_t after = start_ms >= INT64_MIN + max_span_ms ? start_ms - max_span_ms : INT64_MIN;
  const int64_t last_block = BlockOf(end_ms);
  // All the blocks in one read transaction: the caller's, or one of its own.
  if (!sqlite3_get_autocommit(db_)) {
    return ReadBlocks(series_id, after, start_ms, end_ms, last_block, fn, bad, skip_block);
  }
  VIGIL_RETURN_IF_ERROR(BeginRead());
  Status status = ReadBlocks(series_id, after, start_ms, end_ms, last_block, fn, bad, skip_block);
  Status ended = EndRead();
  return status.ok() ? ended : status;
}

Status ChunkDb::ReadBlocks(uint64_t series_id, int64_t after, int64_t start_ms, int64_t end_ms,
                           int64_t last_block, const RowFn& fn,
                           const std::function<void(int64_t, std::string)>& bad,
                           const std::function<bool(int64_t)>& skip_block) {
  ChunkRow row;
  row.series_id = series_id;
  const bool cached = read_only_ && cache_ != nullptr;
  if (cached) cache_->FindBlocks(series_id, BlockOf(after), last_block, &cached_blocks_);
  size_t next_cached = 0;  // the first of cached_blocks_ not behind `block`
  for (int64_t block = BlockOf(after); block <= last_block; ++block) {
    if (skip_block && skip_block(block)) continue;
    int rows = 0;
    if (cached) {
      while (next_cached < cached_blocks_.size() && cached_blocks_[next_cached].first < block) {
        ++next_cached;
      }
      if (next_cached < cached_blocks_.size() && cached_blocks_[next_cached].first == block) {
        ++cache_hits_;
        const std::shared_ptr<const ChunkCache::Rows>& kept = cached_blocks_[next_cached].second;
        for (const ChunkRow& row : *kept) {
          if (row.min_t > after && row.min_t <= end_ms && row.max_t >= start_ms) fn(row, kept);
        }
        continue;  // an empty entry too: the next block may be kept as well
      }
      ++cache_misses_;
      Status status;
      rows = ReadBlockToCache(series_id, block, after, start_ms, end_ms, fn, bad, &status);
      if (rows < 0) return status;
    } else {
      sqlite3_stmt* s = read_chunks_;
      StatementScope scope(s);
      sqlite3_bind_int64(s, 1, block);
      sqlite3_bind_int64(s, 2, static_cast<int64_t>(series_id));
      sqlite3_bind_int64(s, 3, after);
      sqlite3_bind_int64(s, 4, end_ms);
      sqlite3_bind_int64(s, 5, start_ms);
      int rc;
      while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ++rows;
        if (!ReadChunkRow(s, &row)) {
          bad(row.min_t, "checksum mismatch");
          continue;
        }
        fn(row, nullptr);
      }
      if (rc != SQLITE_DONE) return Error("read chunks of series " + std::to_string(series_id));
    }
    if (rows > 0) continue;
    // Nothing of this series here: jump over blocks that hold no chunk at all (a gap in
    // the data, or a range that starts long before it).
    StatementScope scope(next_block_);
    sqlite3_bind_int64(next_block_, 1, block + 1);
    const int rc = sqlite3_step(next_block_);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return Error("read chunks of series " + std::to_string(series_id));
    block = sqlite3_column_int64(next_block_, 0) - 1;
  }
  return OkStatus();
}

int ChunkDb::ReadBlockToCache(uint64_t series_id, int64_t block, int64_t after, int64_t start_ms,
                              int64_t end_ms, const RowFn& fn,
                              const std::function<void(int64_t, std::string)>& bad,
                              Status* status) {
  auto rows = std::make_shared<ChunkCache::Rows>();
  std::vector<size_t> in_range;  // handed over once the block is read: rows may still move
  bool damaged = false;          // a block with a damaged row is not kept: each read reports it
  {
    StatementScope scope(read_block_);
    sqlite3_bind_int64(read_block_, 1, block);
    sqlite3_bind_int64(read_block_, 2, static_cast<int64_t>(series_id));
    int rc;
    while ((rc = sqlite3_step(read_block_)) == SQLITE_ROW) {
      ChunkRow& row = rows->emplace_back();
      row.series_id = series_id;
      const bool checked = ReadChunkRow(read_block_, &row);
      const bool wanted = row.min_t > after && row.min_t <= end_ms && row.max_t >= start_ms;
      if (!checked) {
        damaged = true;
        if (wanted) bad(row.min_t, "checksum mismatch");
        continue;
      }
      if (wanted) in_range.push_back(rows->size() - 1);
    }
    if (rc != SQLITE_DONE) {
      *status = Error("read chunks of series " + std::to_string(series_id));
      return -1;
    }
  }
  const std::shared_ptr<const ChunkCache::Rows> kept = std::move(rows);
  for (size_t i : in_range) fn((*kept)[i], kept);
  if (!damaged) cache_->Keep(series_id, block, kept, read_epoch_);
  return static_cast<int>(kept->size());
}

Result<std::vector<ChunkGroup>> ChunkDb::UncompactedGroups(int64_t first_block, int64_t last_block,
                                                           int64_t limit) {
  VIGIL_ASSIGN_OR_RETURN(
      sqlite3_stmt * s,
      Prepare("SELECT DISTINCT block, series_id FROM chunks INDEXED BY chunks_to_compact WHERE "
              "encoding = 1 AND block BETWEEN ? AND ? ORDER BY block, series_id LIMIT ?"));
  StatementScope scope(s);
  sqlite3_bind_int64(s, 1, first_block);
  sqlite3_bind_int64(s, 2, last_block);
  sqlite3_bind_int64(s, 3, limit);
  std::vector<ChunkGroup> groups;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    groups.push_back(
        {sqlite3_column_int64(s, 0), static_cast<uint64_t>(sqlite3_column_int64(s, 1))});
  }
  if (rc != SQLITE_DONE) return Error("find chunks not compacted");
  return groups;
}

Status ChunkDb::Compact(const std::vector<ChunkGroup>& groups, const MergeFn& merge,
                        std::vector<int64_t>* rows_removed) {
  VIGIL_ASSIGN_OR_RETURN(
      sqlite3_stmt * read,
      Prepare("SELECT min_t, max_t, count, encoding, crc, data FROM chunks WHERE block = ? AND "
              "series_id = ? AND encoding != 0 ORDER BY min_t"));
  VIGIL_ASSIGN_OR_RETURN(
      sqlite3_stmt * remove,
      Prepare("DELETE FROM chunks WHERE block = ? AND series_id = ? AND min_t = ?"));
  VIGIL_ASSIGN_OR_RETURN(
      sqlite3_stmt * set_damaged,
      Prepare("UPDATE chunks SET encoding = 0 WHERE block = ? AND series_id = ? AND min_t = ?"));
  // A plain INSERT: a key already taken fails the transaction instead of dropping the row.
  VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * insert,
                         Prepare("INSERT INTO chunks(block, series_id, min_t, max_t, count, "
                                 "encoding, crc, data) VALUES(?,?,?,?,?,?,?,?)"));
  VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * insert_tier,
                         Prepare("INSERT OR REPLACE INTO tiers(series_id, resolution_ms, block, "
                                 "crc, data) VALUES(?,?,?,?,?)"));
  CacheWriteScope cached(cache_, [&](ChunkCache& cache) {
    cache.WriteBegins(groups, [](const ChunkGroup& group) {
      return ChunkCache::Pair{group.series_id, group.block};
    });
  });
  VIGIL_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto fail = [&](std::string_view what) {
    Status status = Error(what);
    (void)Exec("ROLLBACK");
    return status;
  };
  auto by_key = [&](sqlite3_stmt* s, const ChunkGroup& group, int64_t min_t) {
    StatementScope scope(s);
    sqlite3_bind_int64(s, 1, group.block);
    sqlite3_bind_int64(s, 2, static_cast<int64_t>(group.series_id));
    sqlite3_bind_int64(s, 3, min_t);
    return sqlite3_step(s) == SQLITE_DONE;
  };
  rows_removed->assign(groups.size(), 0);
  int64_t bytes_added = 0;
  std::vector<ChunkRow> rows;
  std::vector<std::pair<size_t, ChunkRow>> merged_rows;  // group, its compacted row
  std::vector<TierRow> tier_rows;
  for (size_t g = 0; g < groups.size(); ++g) {
    const ChunkGroup& group = groups[g];
    rows.clear();
    {
      StatementScope scope(read);
      sqlite3_bind_int64(read, 1, group.block);
      sqlite3_bind_int64(read, 2, static_cast<int64_t>(group.series_id));
      int rc;
      while ((rc = sqlite3_step(read)) == SQLITE_ROW) {
        ChunkRow& row = rows.emplace_back();
        row.series_id = group.series_id;
        if (!ReadChunkRow(read, &row)) row.encoding = 0;  // the merge leaves it alone
      }
      if (rc != SQLITE_DONE) return fail("read chunks to compact");
    }
    std::vector<ChunkRow> readable;
    for (ChunkRow& row : rows) {
      if (row.encoding == 0) {
        if (!by_key(set_damaged, group, row.min_t)) return fail("mark a damaged chunk");
      } else {
        readable.push_back(std::move(row));
      }
    }
    if (readable.empty()) continue;
    std::optional<ChunkRow> merged = merge(readable, &tier_rows);
    for (const ChunkRow& row : readable) {
      if (row.encoding == 0) {
        if (!by_key(set_damaged, group, row.min_t)) return fail("mark a damaged chunk");
      } else if (merged) {
        if (!by_key(remove, group, row.min_t)) return fail("delete compacted chunks");
        bytes_added -= static_cast<int64_t>(row.data.size());
        ++(*rows_removed)[g];
      }
    }
    if (merged) merged_rows.emplace_back(g, std::move(*merged));
  }
  // The merged rows go in after every group's old rows are gone, in key order: into the
  // pages the deletes emptied, side by side, rather than one row amid each group's
  // half-emptied pages (fuller B-tree pages, a smaller file).
  std::sort(merged_rows.begin(), merged_rows.end(), [&](const auto& a, const auto& b) {
    return std::tuple(groups[a.first].block, a.second.series_id, a.second.min_t) <
           std::tuple(groups[b.first].block, b.second.series_id, b.second.min_t);
  });
  for (const auto& [g, merged] : merged_rows) {
    if (!InsertChunk(insert, merged)) return fail("insert a compacted chunk");
    bytes_added += static_cast<int64_t>(merged.data.size());
    --(*rows_removed)[g];
  }
  for (const TierRow& row : tier_rows) {
    StatementScope scope(insert_tier);
    sqlite3_bind_int64(insert_tier, 1, static_cast<int64_t>(row.series_id));
    sqlite3_bind_int64(insert_tier, 2, row.resolution_ms);
    sqlite3_bind_int64(insert_tier, 3, row.block);
    sqlite3_bind_int64(insert_tier, 4, crc32c::Value(row.data));
    sqlite3_bind_blob(insert_tier, 5, row.data.data(), static_cast<int>(row.data.size()),
                      SQLITE_STATIC);
    if (sqlite3_step(insert_tier) != SQLITE_DONE) return fail("insert a tier row");
  }
  return CommitAddingChunkBytes(bytes_added);
}

Result<std::vector<uint64_t>> ChunkDb::DeleteChunks(sqlite3_stmt* s) {
  VIGIL_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  std::vector<uint64_t> series;
  int64_t bytes = 0;
  int rc;
  {
    StatementScope scope(s);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      series.push_back(static_cast<uint64_t>(sqlite3_column_int64(s, 0)));
      bytes += sqlite3_column_int64(s, 1);
    }
  }
  if (rc != SQLITE_DONE) {
    Status status = Error("delete chunks");
    (void)Exec("ROLLBACK");
    return status;
  }
  VIGIL_RETURN_IF_ERROR(CommitAddingChunkBytes(-bytes));
  return series;
}

Status ChunkDb::ReadTiers(uint64_t series_id, int64_t resolution_ms, int64_t first_block,
                          int64_t last_block, const std::function<void(TierRow&)>& fn,
                          const std::function<void(int64_t, std::string)>& bad) {
  const bool own = sqlite3_get_autocommit(db_) != 0;
  if (own) VIGIL_RETURN_IF_ERROR(BeginRead());
  TierRow row;
  row.series_id = series_id;
  row.resolution_ms = resolution_ms;
  int rc;
  {
    StatementScope scope(read_tiers_);
    sqlite3_bind_int64(read_tiers_, 1, static_cast<int64_t>(series_id));
    sqlite3_bind_int64(read_tiers_, 2, resolution_ms);
    sqlite3_bind_int64(read_tiers_, 3, first_block);
    sqlite3_bind_int64(read_tiers_, 4, last_block);
    while ((rc = sqlite3_step(read_tiers_)) == SQLITE_ROW) {
      row.block = sqlite3_column_int64(read_tiers_, 0);
      if (!ReadCheckedBlob(read_tiers_, 1, 2, &row.data)) {
        bad(row.block, "checksum mismatch");
        continue;
      }
      fn(row);
    }
  }
  Status status =
      rc == SQLITE_DONE ? OkStatus() : Error("read tiers of series " + std::to_string(series_id));
  if (own) {
    Status ended = EndRead();
    if (status.ok()) status = ended;
  }
  return status;
}

namespace {
// Runs a bound DELETE … RETURNING series_id; the series of each row deleted.
Result<std::vector<uint64_t>> StepDelete(sqlite3_stmt* s, std::vector<uint64_t> series) {
  StatementScope scope(s);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    series.push_back(static_cast<uint64_t>(sqlite3_column_int64(s, 0)));
  }
  if (rc != SQLITE_DONE) return UnavailableError("delete tier rows");
  return series;
}
}  // namespace

Result<std::vector<uint64_t>> ChunkDb::DeleteTiersBefore(int64_t resolution_ms,
                                                         int64_t before_block) {
  VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                         Prepare("DELETE FROM tiers WHERE resolution_ms = ? AND block < ? "
                                 "RETURNING series_id"));
  sqlite3_bind_int64(s, 1, resolution_ms);
  sqlite3_bind_int64(s, 2, before_block);
  auto deleted = StepDelete(s, {});
  if (!deleted.ok()) return Error("delete tier rows");
  return deleted;
}

Result<std::vector<uint64_t>> ChunkDb::DeleteTiersNotIn(const std::vector<int64_t>& resolutions) {
  VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * kept, Prepare("SELECT DISTINCT resolution_ms FROM tiers"));
  std::vector<int64_t> gone;
  {
    StatementScope scope(kept);
    int rc;
    while ((rc = sqlite3_step(kept)) == SQLITE_ROW) {
      const int64_t r = sqlite3_column_int64(kept, 0);
      if (std::find(resolutions.begin(), resolutions.end(), r) == resolutions.end()) {
        gone.push_back(r);
      }
    }
    if (rc != SQLITE_DONE) return Error("list tiers");
  }
  std::vector<uint64_t> series;
  VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                         Prepare("DELETE FROM tiers WHERE resolution_ms = ? RETURNING series_id"));
  for (int64_t r : gone) {
    sqlite3_bind_int64(s, 1, r);
    auto deleted = StepDelete(s, std::move(series));
    if (!deleted.ok()) return Error("delete tier rows");
    series = *std::move(deleted);
  }
  return series;
}

Result<bool> ChunkDb::HasTiers(uint64_t series_id) {
  VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                         Prepare("SELECT 1 FROM tiers WHERE series_id = ? LIMIT 1"));
  StatementScope scope(s);
  sqlite3_bind_int64(s, 1, static_cast<int64_t>(series_id));
  const int rc = sqlite3_step(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error("find tier rows");
  return rc == SQLITE_ROW;
}

Result<std::vector<uint64_t>> ChunkDb::DeleteChunksBefore(int64_t before_ms) {
  // max_t < before implies min_t < before: only blocks up to before's are read.
  VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                         Prepare("DELETE FROM chunks WHERE block <= ? AND max_t < ? "
                                 "RETURNING series_id, length(data)"));
  sqlite3_bind_int64(s, 1, BlockOf(before_ms));
  sqlite3_bind_int64(s, 2, before_ms);
  CacheWriteScope cached(cache_,
                         [&](ChunkCache& cache) { cache.WriteBeginsUpTo(BlockOf(before_ms)); });
  return DeleteChunks(s);
}

Result<std::vector<uint64_t>> ChunkDb::DeleteOldestChunks(int64_t n) {
  VIGIL_ASSIGN_OR_RETURN(
      sqlite3_stmt * s,
      Prepare("DELETE FROM chunks WHERE (block, series_id, min_t) IN (SELECT block, series_id, "
              "min_t FROM chunks ORDER BY block, max_t LIMIT ?) RETURNING series_id, "
              "length(data)"));
  sqlite3_bind_int64(s, 1, n);
  CacheWriteScope cached(cache_, [](ChunkCache& cache) { cache.WriteBeginsAll(); });
  return DeleteChunks(s);
}

Status ChunkDb::CommitAddingChunkBytes(int64_t delta) {
  auto s = Prepare("UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'chunk_bytes'");
  Status status = s.status();
  if (status.ok()) {
    StatementScope scope(*s);
    sqlite3_bind_int64(*s, 1, delta);
    if (sqlite3_step(*s) != SQLITE_DONE) status = Error("count chunk bytes");
  }
  if (status.ok()) status = Exec("COMMIT");
  if (!status.ok()) (void)Exec("ROLLBACK");
  return status;
}

Result<int64_t> ChunkDb::ChunkBytes() {
  VIGIL_ASSIGN_OR_RETURN(
      sqlite3_stmt * s,
      Prepare("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'chunk_bytes'"));
  StatementScope scope(s);
  if (sqlite3_step(s) != SQLITE_ROW) return Error("read chunk bytes");
  return sqlite3_column_int64(s, 0);
}

Status ChunkDb::DeleteSeries(const std::vector<uint64_t>& ids) {
  if (ids.empty()) return OkStatus();
  VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare("DELETE FROM series WHERE id = ?"));
  VIGIL_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  for (uint64_t id : ids) {
    StatementScope scope(s);
    sqlite3_bind_int64(s, 1, static_cast<int64_t>(id));
    if (sqlite3_step(s) != SQLITE_DONE) {
      Status status = Error("delete series");
      (void)Exec("ROLLBACK");
      return status;
    }
  }
  return Exec("COMMIT");
}

Result<int64_t> ChunkDb::DatabaseBytes() {
  int64_t pages = 0, page_size = 0;
  for (auto [sql, out] :
       {std::pair{"PRAGMA page_count", &pages}, std::pair{"PRAGMA page_size", &page_size}}) {
    VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(sql));
    StatementScope scope(s);
    if (sqlite3_step(s) != SQLITE_ROW) return Error(sql);
    *out = sqlite3_column_int64(s, 0);
  }
  return pages * page_size;
}

Status ChunkDb::ReleaseFreePages(double keep_fraction) {
  int64_t pages = 0, free_pages = 0, auto_vacuum = 0;
  for (auto [sql, out] :
       {std::pair{"PRAGMA page_count", &pages}, std::pair{"PRAGMA freelist_count", &free_pages},
        std::pair{"PRAGMA auto_vacuum", &auto_vacuum}}) {
    VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare(sql));
    StatementScope scope(s);
    if (sqlite3_step(s) != SQLITE_ROW) return Error(sql);
    *out = sqlite3_column_int64(s, 0);
  }
  constexpr int64_t kIncremental = 2;
  const auto keep = static_cast<int64_t>(keep_fraction * static_cast<double>(pages - free_pages));
  if (auto_vacuum != kIncremental || free_pages <= keep) return OkStatus();
  const std::string sql = "PRAGMA incremental_vacuum(" + std::to_string(free_pages - keep) + ")";
  return Exec(sql.c_str());
}

Result<int64_t> ChunkDb::ChunkCount() {
  VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare("SELECT COUNT(*) FROM chunks"));
  StatementScope scope(s);
  if (sqlite3_step(s) != SQLITE_ROW) return Error("count chunks");
  return sqlite3_column_int64(s, 0);
}

}  // namespace vigil::tsdb
