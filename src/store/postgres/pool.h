// A small pool of libpq connections to one PostgreSQL database, and the few helpers the
// PostgreSQL store needs on top of libpq: parameterized statements, binary values, and
// errors mapped to Status (a lost connection is Unavailable, a statement timeout
// DeadlineExceeded, anything the server rejects carries its SQLSTATE).
// Connections open lazily; a broken one is dropped when it is returned and reopened on the
// next Acquire, no sooner than an exponential backoff (100 ms doubling to 5 s) after the
// last failure, so that an outage costs one quick error per call and not a connect storm.
// docs/postgres.md.
//
// Thread safety: Pool may be used from any thread; a Lease (one connection) from one
// thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"

// libpq's two handles, declared as libpq-fe.h declares them, so that libpq stays inside
// this module: only its .cc files include libpq-fe.h.
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace vigil::store::postgres {

struct ResultDeleter {
  void operator()(PGresult* r) const;
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// One statement parameter: text (format 0) or binary (format 1) with its type's OID.
struct Param {
  std::string data;
  unsigned int type = 0;  // libpq's Oid of the type; 0: let the server infer it
  int format = 0;
  bool null = false;

  static Param Text(std::string text) { return {std::move(text), 0, 0, false}; }
  static Param Int8(int64_t v);
  // Milliseconds since the Unix epoch as a timestamptz.
  static Param Timestamp(int64_t ms);
  // A bigint[] in text form.
  static Param Int8Array(const std::vector<int64_t>& values);
  // A double precision[] in text form (exact), nullopt as NULL.
  static Param Float8Array(const std::vector<std::optional<double>>& values);
};

// Binary wire values (network byte order), as in results and binary COPY.
int64_t ReadInt8(const char* p);
double ReadFloat8(const char* p);
// timestamptz: microseconds since 2000-01-01 UTC, converted to ms since 1970.
int64_t ReadTimestampMs(const char* p);
void AppendInt16(std::string& out, int16_t v);
void AppendInt32(std::string& out, int32_t v);
void AppendInt64(std::string& out, int64_t v);
// Binary COPY of samples (series_id bigint, t timestamptz, value double precision): the
// header, one row, and the trailer.
std::string CopyHeader();
void AppendCopyRow(std::string& out, int64_t series_id, int64_t timestamp_ms, double value);
void AppendCopyTrailer(std::string& out);

// Milliseconds since 1970 as a timestamptz, clamped to what it can hold (about 4600 BC to
// 287,000 AD).
int64_t TimestampMsToPg(int64_t ms);
inline constexpr int64_t kMinTimestampMs = -210'000'000'000'000;
inline constexpr int64_t kMaxTimestampMs = 9'000'000'000'000'000;
inline bool TimestampFits(int64_t ms) { return ms >= kMinTimestampMs && ms <= kMaxTimestampMs; }

// The SQLSTATE of a failed result ("" when none).
std::string SqlState(const PGresult* result);

class Pool {
 public:
  struct Options {
    std::string url;  // postgres://user:password@host:port/db?…; libpq's PG* variables apply
    size_t size = 4;
    std::chrono::milliseconds statement_timeout{30'000};
    std::chrono::seconds connect_timeout{5};
    std::chrono::milliseconds max_backoff{5'000};
  };

  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(other.conn_) {
      other.conn_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PGconn* get() const { return conn_; }

    // Runs `sql` (one statement, or several without params) and returns its result;
    // binary_result asks for binary columns.
    Result<PgResult> Exec(std::string_view sql, const std::vector<Param>& params = {},
                          bool binary_result = false);
    // COPY … FROM STDIN with `data` as the whole input; returns the rows copied.
    Result<int64_t> CopyIn(std::string_view copy_sql, std::string_view data);

   private:
    friend class Pool;
    Lease(Pool* pool, PGconn* conn) : pool_(pool), conn_(conn) {}
    Status ErrorOf(const PGresult* result, std::string_view what);
    Pool* pool_;
    PGconn* conn_;
  };

  explicit Pool(Options options) : options_(std::move(options)) {}
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A connection, waiting while all `size` are in use; Unavailable when the server cannot
  // be reached (or the backoff after the last failure has not passed).
  Result<Lease> Acquire();

  const Options& options() const { return options_; }

 private:
  void Release(PGconn* conn);
  // An idle connection or a new one (the lock is released while connecting).
  Result<Lease> TakeOrOpen() VIGIL_REQUIRES(mu_);
  Result<PGconn*> Connect();

  Options options_;
  Mutex mu_;
  CondVar cv_;
  std::vector<PGconn*> idle_ VIGIL_GUARDED_BY(mu_);
  size_t open_ VIGIL_GUARDED_BY(mu_) = 0;  // connections open or being opened
  std::chrono::steady_clock::time_point retry_at_ VIGIL_GUARDED_BY(mu_){};
  std::chrono::milliseconds backoff_ VIGIL_GUARDED_BY(mu_){0};
  std::string last_error_ VIGIL_GUARDED_BY(mu_);
};

}  // namespace vigil::store::postgres
