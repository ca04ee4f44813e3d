#include "tsdb/chunk_db.h"

#include <nlohmann/json.hpp>

#include "core/crc32c.h"

namespace vigil::tsdb {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES ('format', '1');
INSERT OR IGNORE INTO meta(key, value) VALUES ('chunk_bytes', '0');
CREATE TABLE IF NOT EXISTS series(
  id INTEGER PRIMARY KEY,
  labels TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS chunks(
  series_id INTEGER NOT NULL,
  min_t INTEGER NOT NULL,
  max_t INTEGER NOT NULL,
  count INTEGER NOT NULL,
  encoding INTEGER NOT NULL,
  crc INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(series_id, min_t)
) WITHOUT ROWID;
)sql";

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

std::string LabelsToJson(const model::Labels& labels) {
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  for (const model::LabelRef& l : labels) object[l.name] = l.value;
  return object.dump();
}

Result<model::Labels> LabelsFromJson(std::string_view json) {
  auto parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return InvalidArgumentError("labels are not a JSON object");
  std::vector<model::Label> pairs;
  for (auto it = parsed.begin(); it != parsed.end(); ++it) {
    if (!it.value().is_string()) return InvalidArgumentError("label " + it.key() + " not a string");
    pairs.push_back({it.key(), it.value().get<std::string>()});
  }
  return model::Labels::FromPairs(std::move(pairs));
}

Result<std::unique_ptr<ChunkDb>> ChunkDb::Open(const std::string& path, bool read_only) {
  sqlite3* db = nullptr;
  // A reader opens read-write without create: SQLite's WAL mode needs to write the -shm
  // file even to read; query_only keeps it from changing the database.
  const int flags = read_only ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return UnavailableError("open " + path + ": " + message);
  }
  std::unique_ptr<ChunkDb> chunk_db(new ChunkDb(db, path));
  sqlite3_busy_timeout(db, 5000);
  if (read_only) {
    VIGIL_RETURN_IF_ERROR(chunk_db->Exec("PRAGMA query_only=1"));
  } else {
    // page_size only takes effect on a new database; 8 KiB pages hold many chunk rows.
    VIGIL_RETURN_IF_ERROR(chunk_db->Exec("PRAGMA page_size=8192"));
    VIGIL_RETURN_IF_ERROR(chunk_db->Exec("PRAGMA journal_mode=WAL"));
    // FULL: a commit is on disk before the store deletes the log segments it replaces.
    VIGIL_RETURN_IF_ERROR(chunk_db->Exec("PRAGMA synchronous=FULL"));
    VIGIL_RETURN_IF_ERROR(chunk_db->Exec(kSchema));
    VIGIL_ASSIGN_OR_RETURN(
        chunk_db->insert_series_,
        chunk_db->Prepare("INSERT OR IGNORE INTO series(id, labels) VALUES(?,?)"));
    VIGIL_ASSIGN_OR_RETURN(
        chunk_db->insert_chunk_,
        chunk_db->Prepare("INSERT OR IGNORE INTO chunks(series_id, min_t, max_t, count, "
                          "encoding, crc, data) VALUES(?,?,?,?,1,?,?)"));
  }
  VIGIL_ASSIGN_OR_RETURN(
      chunk_db->read_chunks_,
      chunk_db->Prepare("SELECT min_t, max_t, count, crc, data FROM chunks WHERE series_id = ? "
                        "AND min_t > ? AND min_t <= ? AND max_t >= ? ORDER BY min_t"));
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

Status ChunkDb::LoadSeries(const std::function<void(uint64_t, model::Labels)>& fn,
                           const std::function<void(uint64_t, std::string)>& bad) {
  VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare("SELECT id, labels FROM series ORDER BY id"));
  StatementScope scope(s);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const auto id = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
    auto labels = LabelsFromJson(text ? std::string_view(text) : std::string_view());
    if (labels.ok()) {
      fn(id, *std::move(labels));
    } else {
      bad(id, labels.status().message());
    }
  }
  if (rc != SQLITE_DONE) return Error("load series");
  return OkStatus();
}

Status ChunkDb::LoadMaxTimes(const std::function<void(uint64_t, int64_t)>& fn) {
  VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                         Prepare("SELECT series_id, MAX(max_t) FROM chunks GROUP BY series_id"));
  StatementScope scope(s);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    fn(static_cast<uint64_t>(sqlite3_column_int64(s, 0)), sqlite3_column_int64(s, 1));
  }
  if (rc != SQLITE_DONE) return Error("load newest times");
  return OkStatus();
}

Status ChunkDb::Write(const std::vector<NewSeriesRow>& series,
                      const std::vector<ChunkRow>& chunks) {
  VIGIL_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto fail = [&](std::string_view what) {
    Status status = Error(what);
    (void)Exec("ROLLBACK");
    return status;
  };
  for (const NewSeriesRow& row : series) {
    StatementScope scope(insert_series_);
    const std::string json = LabelsToJson(*row.labels);
    sqlite3_bind_int64(insert_series_, 1, static_cast<int64_t>(row.id));
    sqlite3_bind_text(insert_series_, 2, json.data(), static_cast<int>(json.size()), SQLITE_STATIC);
    if (sqlite3_step(insert_series_) != SQLITE_DONE) return fail("insert series");
  }
  for (const ChunkRow& chunk : chunks) {
    StatementScope scope(insert_chunk_);
    sqlite3_bind_int64(insert_chunk_, 1, static_cast<int64_t>(chunk.series_id));
    sqlite3_bind_int64(insert_chunk_, 2, chunk.min_t);
    sqlite3_bind_int64(insert_chunk_, 3, chunk.max_t);
    sqlite3_bind_int(insert_chunk_, 4, chunk.count);
    sqlite3_bind_int64(insert_chunk_, 5, crc32c::Value(chunk.data));
    sqlite3_bind_blob(insert_chunk_, 6, chunk.data.data(), static_cast<int>(chunk.data.size()),
                      SQLITE_STATIC);
    if (sqlite3_step(insert_chunk_) != SQLITE_DONE) return fail("insert chunk");
  }
  int64_t added = 0;
  for (const ChunkRow& chunk : chunks) added += static_cast<int64_t>(chunk.data.size());
  if (Status status = AddChunkBytes(added); !status.ok()) {
    (void)Exec("ROLLBACK");
    return status;
  }
  if (Status status = Exec("COMMIT"); !status.ok()) {
    (void)Exec("ROLLBACK");
    return status;
  }
  return OkStatus();
}

Status ChunkDb::ReadChunks(uint64_t series_id, int64_t start_ms, int64_t end_ms,
                           int64_t max_span_ms, const std::function<void(ChunkRow&)>& fn,
                           const std::function<void(int64_t, std::string)>& bad) {
  sqlite3_stmt* s = read_chunks_;
  StatementScope scope(s);
  sqlite3_bind_int64(s, 1, static_cast<int64_t>(series_id));
  sqlite3_bind_int64(s, 2, start_ms - max_span_ms);
  sqlite3_bind_int64(s, 3, end_ms);
  sqlite3_bind_int64(s, 4, start_ms);
  int rc;
  ChunkRow row;
  row.series_id = series_id;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    row.min_t = sqlite3_column_int64(s, 0);
    row.max_t = sqlite3_column_int64(s, 1);
    row.count = sqlite3_column_int(s, 2);
    const auto crc = static_cast<uint32_t>(sqlite3_column_int64(s, 3));
    const auto* blob = static_cast<const char*>(sqlite3_column_blob(s, 4));
    row.data.assign(blob ? blob : "", static_cast<size_t>(sqlite3_column_bytes(s, 4)));
    if (crc32c::Value(row.data) != crc) {
      bad(row.min_t, "checksum mismatch");
      continue;
    }
    fn(row);
  }
  if (rc != SQLITE_DONE) return Error("read chunks of series " + std::to_string(series_id));
  return OkStatus();
}

Result<int64_t> ChunkDb::DeleteChunks(sqlite3_stmt* s) {
  VIGIL_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  int64_t rows = 0, bytes = 0;
  int rc;
  {
    StatementScope scope(s);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      ++rows;
      bytes += sqlite3_column_int64(s, 0);
    }
  }
  Status status = rc == SQLITE_DONE ? AddChunkBytes(-bytes) : Error("delete chunks");
  if (status.ok()) status = Exec("COMMIT");
  if (!status.ok()) {
    (void)Exec("ROLLBACK");
    return status;
  }
  return rows;
}

Result<int64_t> ChunkDb::DeleteChunksBefore(int64_t before_ms) {
  VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                         Prepare("DELETE FROM chunks WHERE max_t < ? RETURNING length(data)"));
  sqlite3_bind_int64(s, 1, before_ms);
  return DeleteChunks(s);
}

Result<int64_t> ChunkDb::DeleteOldestChunks(int64_t n) {
  VIGIL_ASSIGN_OR_RETURN(
      sqlite3_stmt * s,
      Prepare("DELETE FROM chunks WHERE (series_id, min_t) IN (SELECT series_id, min_t FROM "
              "chunks ORDER BY max_t LIMIT ?) RETURNING length(data)"));
  sqlite3_bind_int64(s, 1, n);
  return DeleteChunks(s);
}

Status ChunkDb::AddChunkBytes(int64_t delta) {
  VIGIL_ASSIGN_OR_RETURN(
      sqlite3_stmt * s,
      Prepare("UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'chunk_bytes'"));
  StatementScope scope(s);
  sqlite3_bind_int64(s, 1, delta);
  if (sqlite3_step(s) != SQLITE_DONE) return Error("count chunk bytes");
  return OkStatus();
}

Result<int64_t> ChunkDb::ChunkBytes() {
  VIGIL_ASSIGN_OR_RETURN(
      sqlite3_stmt * s,
      Prepare("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'chunk_bytes'"));
  StatementScope scope(s);
  if (sqlite3_step(s) != SQLITE_ROW) return Error("read chunk bytes");
  return sqlite3_column_int64(s, 0);
}

Result<std::vector<uint64_t>> ChunkDb::DeleteEmptySeries(const std::vector<uint64_t>& keep) {
  VIGIL_RETURN_IF_ERROR(
      Exec("CREATE TEMP TABLE IF NOT EXISTS keep_series(id INTEGER PRIMARY KEY)"));
  VIGIL_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status status = Exec("DELETE FROM temp.keep_series");
  std::vector<uint64_t> deleted;
  if (status.ok()) {
    auto insert = Prepare("INSERT OR IGNORE INTO temp.keep_series(id) VALUES(?)");
    if (!insert.ok()) status = insert.status();
    for (size_t i = 0; status.ok() && i < keep.size(); ++i) {
      StatementScope scope(*insert);
      sqlite3_bind_int64(*insert, 1, static_cast<int64_t>(keep[i]));
      if (sqlite3_step(*insert) != SQLITE_DONE) status = Error("keep series");
    }
  }
  if (status.ok()) {
    auto select = Prepare(
        "DELETE FROM series WHERE id NOT IN (SELECT id FROM temp.keep_series) AND NOT EXISTS "
        "(SELECT 1 FROM chunks WHERE chunks.series_id = series.id) RETURNING id");
    if (!select.ok()) status = select.status();
    if (status.ok()) {
      StatementScope scope(*select);
      int rc;
      while ((rc = sqlite3_step(*select)) == SQLITE_ROW) {
        deleted.push_back(static_cast<uint64_t>(sqlite3_column_int64(*select, 0)));
      }
      if (rc != SQLITE_DONE) status = Error("delete empty series");
    }
  }
  if (!status.ok()) {
    (void)Exec("ROLLBACK");
    return status;
  }
  VIGIL_RETURN_IF_ERROR(Exec("COMMIT"));
  return deleted;
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

Result<int64_t> ChunkDb::ChunkCount() {
  VIGIL_ASSIGN_OR_RETURN(sqlite3_stmt * s, Prepare("SELECT COUNT(*) FROM chunks"));
  StatementScope scope(s);
  if (sqlite3_step(s) != SQLITE_ROW) return Error("count chunks");
  return sqlite3_column_int64(s, 0);
}

}  // namespace vigil::tsdb
