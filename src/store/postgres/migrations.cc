#include "store/postgres/migrations.h"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace vigil::store::postgres {
namespace {

// pg_advisory_xact_lock's key for migrations: "vigil" in ASCII.
constexpr int64_t kMigrationLock = 0x766967696c;

}  // namespace

std::vector<Migration> BundledMigrations() {
  std::vector<Migration> out;
  for (const Asset& asset : AllAssets()) {
    Migration m;
    m.name = asset.path;
    m.sql = asset.body;
    m.version = std::atoi(std::string(asset.path.substr(0, asset.path.find('_'))).c_str());
    out.push_back(m);
  }
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  return out;
}

Result<MigrateResult> Migrate(Pool& pool) {
  VIGIL_ASSIGN_OR_RETURN(Pool::Lease conn, pool.Acquire());
  VIGIL_RETURN_IF_ERROR(conn.Exec("BEGIN").status());
  VIGIL_RETURN_IF_ERROR(
      conn.Exec("SELECT pg_advisory_xact_lock($1)", {Param::Int8(kMigrationLock)}).status());
  VIGIL_RETURN_IF_ERROR(conn.Exec("CREATE TABLE IF NOT EXISTS vigil_schema_migrations ("
                                  "version integer PRIMARY KEY, name text NOT NULL, "
                                  "applied_at timestamptz NOT NULL DEFAULT now())")
                            .status());
  VIGIL_ASSIGN_OR_RETURN(PgResult rows, conn.Exec("SELECT version FROM vigil_schema_migrations"));
  std::set<int> done;
  for (int i = 0; i < PQntuples(rows.get()); ++i)
    done.insert(std::atoi(PQgetvalue(rows.get(), i, 0)));
  const std::vector<Migration> bundled = BundledMigrations();
  const int known = bundled.empty() ? 0 : bundled.back().version;
  if (!done.empty() && *done.rbegin() > known) {
    return FailedPreconditionError(
        "postgres: the database's schema is at version " + std::to_string(*done.rbegin()) +
        ", newer than this vigil knows (" + std::to_string(known) + "); upgrade vigil");
  }
  MigrateResult result;
  for (const Migration& m : bundled) {
    if (done.count(m.version) > 0) continue;
    VIGIL_RETURN_IF_ERROR(conn.Exec(m.sql).status().Annotate(std::string(m.name)));
    VIGIL_RETURN_IF_ERROR(
        conn.Exec("INSERT INTO vigil_schema_migrations (version, name) VALUES ($1, $2)",
                  {Param::Int8(m.version), Param::Text(std::string(m.name))})
            .status());
    result.applied.push_back(m.version);
  }
  VIGIL_RETURN_IF_ERROR(conn.Exec("COMMIT").status());
  result.version = std::max(known, done.empty() ? 0 : *done.rbegin());
  for (int v : result.applied) spdlog::info("postgres: applied schema migration {}", v);
  return result;
}

Status CheckSchema(Pool& pool) {
  VIGIL_ASSIGN_OR_RETURN(Pool::Lease conn, pool.Acquire());
  VIGIL_ASSIGN_OR_RETURN(PgResult exists,
                         conn.Exec("SELECT to_regclass('vigil_schema_migrations') IS NOT NULL"));
  int version = 0;
  if (std::string(PQgetvalue(exists.get(), 0, 0)) == "t") {
    VIGIL_ASSIGN_OR_RETURN(
        PgResult rows, conn.Exec("SELECT coalesce(max(version), 0) FROM vigil_schema_migrations"));
    version = std::atoi(PQgetvalue(rows.get(), 0, 0));
  }
  const std::vector<Migration> bundled = BundledMigrations();
  const int known = bundled.empty() ? 0 : bundled.back().version;
  if (version < known) {
    return FailedPreconditionError(
        "postgres: the database's schema is at version " + std::to_string(version) +
        ", this vigil needs " + std::to_string(known) +
        ": run `vigil migrate --store URL` or start a datamanager, which migrates");
  }
  if (version > known) {
    return FailedPreconditionError("postgres: the database's schema is at version " +
                                   std::to_string(version) + ", newer than this vigil knows (" +
                                   std::to_string(known) + "); upgrade vigil");
  }
  return OkStatus();
}

}  // namespace vigil::store::postgres
