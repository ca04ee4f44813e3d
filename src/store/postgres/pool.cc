#include "store/postgres/pool.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <iterator>

#include "core/url.h"

namespace vigil::store::postgres {
namespace {

// Microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
constexpr int64_t kPgEpochOffsetUs = 946'684'800'000'000LL;

std::string BigEndian64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

uint64_t ReadBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// The Status for a SQLSTATE: what a caller should do about it.
StatusCode CodeOf(std::string_view state) {
  if (state.starts_with("08") || state.starts_with("53") || state.starts_with("58") ||
      state == "57P01" || state == "57P02" || state == "57P03" || state == "40001" ||
      state == "40P01") {
    // connection, resources (disk full), system I/O, shutdown, retryable conflicts
    return StatusCode::kUnavailable;
  }
  if (state == "57014") return StatusCode::kDeadlineExceeded;  // statement timeout
  if (state == "23505") return StatusCode::kAlreadyExists;
  // Data exceptions, integrity violations and program limits (54000: a label set too large
  // to index) fail again on the same input.
  if (state.starts_with("22") || state.starts_with("23") || state.starts_with("54")) {
    return StatusCode::kInvalidArgument;
  }
  return StatusCode::kInternal;
}

std::string Trimmed(const char* message) {
  std::string m = message == nullptr ? "" : message;
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

}  // namespace

Param Param::Int8(int64_t v) { return {BigEndian64(static_cast<uint64_t>(v)), 20, 1, false}; }
Param Param::Timestamp(int64_t ms) {
  return {BigEndian64(static_cast<uint64_t>(TimestampMsToPg(ms))), 1184, 1, false};
}
Param Param::Int8Array(const std::vector<int64_t>& values) {
  std::string text = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(values[i]);
  }
  text += '}';
  return {std::move(text), 1016, 0, false};
}
Param Param::Float8Array(const std::vector<std::optional<double>>& values) {
  std::string text = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    if (!values[i]) {
      text += "NULL";
    } else if (std::isinf(*values[i])) {
      text += *values[i] > 0 ? "Infinity" : "-Infinity";
    } else {
      fmt::format_to(std::back_inserter(text), "{}", *values[i]);  // shortest exact form
    }
  }
  text += '}';
  return {std::move(text), 1022, 0, false};
}

int64_t ReadInt8(const char* p) { return static_cast<int64_t>(ReadBigEndian64(p)); }
double ReadFloat8(const char* p) { return std::bit_cast<double>(ReadBigEndian64(p)); }
int64_t ReadTimestampMs(const char* p) {
  const int64_t us = ReadInt8(p) + kPgEpochOffsetUs;
  return us >= 0 ? us / 1000 : -((-us + 999) / 1000);
}
int64_t TimestampMsToPg(int64_t ms) {
  return std::clamp(ms, kMinTimestampMs, kMaxTimestampMs) * 1000 - kPgEpochOffsetUs;
}

void AppendInt16(std::string& out, int16_t v) {
  const uint16_t n = htons(static_cast<uint16_t>(v));
  out.append(reinterpret_cast<const char*>(&n), 2);
}
void AppendInt32(std::string& out, int32_t v) {
  const uint32_t n = htonl(static_cast<uint32_t>(v));
  out.append(reinterpret_cast<const char*>(&n), 4);
}
void AppendInt64(std::string& out, int64_t v) { out += BigEndian64(static_cast<uint64_t>(v)); }

std::string CopyHeader() {
  std::string out("PGCOPY\n\377\r\n\0", 11);  // signature, then flags and extension length
  AppendInt32(out, 0);
  AppendInt32(out, 0);
  return out;
}

void AppendCopyRow(std::string& out, int64_t series_id, int64_t timestamp_ms, double value) {
  AppendInt16(out, 3);
  AppendInt32(out, 8);
  AppendInt64(out, series_id);
  AppendInt32(out, 8);
  AppendInt64(out, TimestampMsToPg(timestamp_ms));
  AppendInt32(out, 8);
  AppendInt64(out, std::bit_cast<int64_t>(value));
}

void AppendCopyTrailer(std::string& out) { AppendInt16(out, -1); }

void ResultDeleter::operator()(PGresult* r) const { PQclear(r); }

std::string SqlState(const PGresult* result) {
  const char* state = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  return state == nullptr ? "" : state;
}

Status Pool::Lease::ErrorOf(const PGresult* result, std::string_view what) {
  std::string message =
      Trimmed(result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  if (message.empty()) message = Trimmed(PQerrorMessage(conn_));
  const std::string state = SqlState(result);
  StatusCode code = CodeOf(state);
  if (PQstatus(conn_) != CONNECTION_OK) code = StatusCode::kUnavailable;
  return Status(code, "postgres: " + std::string(what) + ": " + message +
                          (state.empty() ? "" : " (SQLSTATE " + state + ")"));
}

Result<PgResult> Pool::Lease::Exec(std::string_view sql, const std::vector<Param>& params,
                                   bool binary_result) {
  const std::string statement(sql);
  PgResult result;
  if (params.empty() && !binary_result) {
    result.reset(PQexec(conn_, statement.c_str()));
  } else {
    std::vector<const char*> values;
    std::vector<Oid> types;
    std::vector<int> lengths;
    std::vector<int> formats;
    for (const Param& p : params) {
      values.push_back(p.null ? nullptr : p.data.data());
      types.push_back(p.type);
      lengths.push_back(static_cast<int>(p.data.size()));
      formats.push_back(p.format);
    }
    result.reset(PQexecParams(conn_, statement.c_str(), static_cast<int>(params.size()),
                              types.data(), values.data(), lengths.data(), formats.data(),
                              binary_result ? 1 : 0));
  }
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    std::string what = statement.substr(0, statement.find_first_of("(\n"));
    return ErrorOf(result.get(), what);
  }
  return result;
}

Result<int64_t> Pool::Lease::CopyIn(std::string_view copy_sql, std::string_view data) {
  const std::string statement(copy_sql);
  PgResult start(PQexec(conn_, statement.c_str()));
  if (!start || PQresultStatus(start.get()) != PGRES_COPY_IN) return ErrorOf(start.get(), "COPY");
  if (PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) != 1 ||
      PQputCopyEnd(conn_, nullptr) != 1) {
    return ErrorOf(nullptr, "COPY");
  }
  PgResult end(PQgetResult(conn_));
  Status status;
  int64_t rows = 0;
  if (!end || PQresultStatus(end.get()) != PGRES_COMMAND_OK) {
    status = ErrorOf(end.get(), "COPY");
  } else {
    rows = std::atoll(PQcmdTuples(end.get()));
  }
  while (PGresult* rest = PQgetResult(conn_)) PQclear(rest);
  if (!status.ok()) return status;
  return rows;
}

Pool::Lease::~Lease() {
  if (conn_ != nullptr) pool_->Release(conn_);
}

Pool::~Pool() {
  MutexLock lock(mu_);
  for (PGconn* conn : idle_) PQfinish(conn);
  idle_.clear();
}

Result<PGconn*> Pool::Connect() {
  const std::string timeout = std::to_string(options_.connect_timeout.count());
  const std::string settings =
      "-c statement_timeout=" + std::to_string(options_.statement_timeout.count()) +
      " -c client_min_messages=warning";
  // Our defaults first, then the URL (expand_dbname), whose own settings win.
  const char* keys[] = {"connect_timeout", "application_name", "options", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "vigil", settings.c_str(), options_.url.c_str(),
                          nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) return UnavailableError("postgres: out of memory connecting");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return UnavailableError("postgres: cannot connect to " + RedactUrl(options_.url) + ": " +
                            message);
  }
  return conn;
}

Result<Pool::Lease> Pool::Acquire() {
  MutexLock lock(mu_);
  cv_.wait(lock, [this]() VIGIL_REQUIRES(mu_) { return !idle_.empty() || open_ < options_.size; });
  return TakeOrOpen();
}

Result<Pool::Lease> Pool::TakeOrOpen() {
  if (!idle_.empty()) {
    PGconn* conn = idle_.back();
    idle_.pop_back();
    return Lease(this, conn);
  }
  const auto now = std::chrono::steady_clock::now();
  if (now < retry_at_) {
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(retry_at_ - now);
    return UnavailableError(last_error_ + " (next attempt in " + std::to_string(wait.count()) +
                            " ms)");
  }
  ++open_;
  mu_.unlock();  // connecting takes time; others may take or return connections meanwhile
  Result<PGconn*> conn = Connect();
  mu_.lock();
  if (!conn.ok()) {
    --open_;
    backoff_ = backoff_.count() == 0 ? std::chrono::milliseconds(100)
                                     : std::min(backoff_ * 2, options_.max_backoff);
    retry_at_ = std::chrono::steady_clock::now() + backoff_;
    last_error_ = conn.status().message();
    cv_.notify_one();
    return conn.status();
  }
  if (backoff_.count() > 0)
    spdlog::info("postgres: connected again to {}", RedactUrl(options_.url));
  backoff_ = std::chrono::milliseconds(0);
  return Lease(this, *conn);
}

void Pool::Release(PGconn* conn) {
  bool healthy = PQstatus(conn) == CONNECTION_OK;
  if (healthy && PQtransactionStatus(conn) != PQTRANS_IDLE) {
    // A caller that returned mid-transaction (an error): roll back, keep the connection.
    PGresult* r = PQexec(conn, "ROLLBACK");
    healthy = r != nullptr && PQresultStatus(r) == PGRES_COMMAND_OK &&
              PQtransactionStatus(conn) == PQTRANS_IDLE;
    PQclear(r);
  }
  std::vector<PGconn*> stale;
  {
    MutexLock lock(mu_);
    if (healthy) {
      idle_.push_back(conn);
    } else {
      // The server went away or restarted: the idle connections are most likely broken
      // too; drop them rather than fail one call per connection.
      stale.swap(idle_);
      stale.push_back(conn);
      open_ -= stale.size();
    }
  }
  cv_.notify_all();
  for (PGconn* c : stale) PQfinish(c);
}

}  // namespace vigil::store::postgres
