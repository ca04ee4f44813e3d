// vigil's PostgreSQL schema as versioned SQL files (migrations/NNNN_name.sql at the
// repository's root), compiled into the binary (cmake/embed_assets.cmake). Migrate applies
// the ones a database lacks, in order, in one transaction under an advisory lock (so
// several datamanagers starting together take turns), and records each in
// vigil_schema_migrations. `vigil migrate` and the datamanager's start both call it.
// docs/postgres.md.
//
// Thread safety: functions; Migrate may run in several processes at once.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "store/postgres/pool.h"

namespace vigil::store::postgres {

// One embedded file (generated at build time).
struct Asset {
  std::string_view path;  // "0001_schema.sql"
  std::string_view content_type;
  std::string_view body;
};
std::span<const Asset> AllAssets();

struct Migration {
  int version = 0;
  std::string_view name;  // the file name
  std::string_view sql;
};

// The migrations compiled in, by version.
std::vector<Migration> BundledMigrations();

struct MigrateResult {
  std::vector<int> applied;  // versions applied by this call
  int version = 0;           // the schema's version afterwards
};

// FailedPrecondition when the database has a version this binary does not know (a newer
// vigil migrated it); the database's error (nothing applied) when a migration fails.
Result<MigrateResult> Migrate(Pool& pool);

// OK when the database has every bundled migration; FailedPrecondition saying what to run
// when it has none or fewer, or a newer one.
Status CheckSchema(Pool& pool);

}  // namespace vigil::store::postgres
