// vigil's configuration: the schema of vigil.toml (every section and key, with types,
// defaults, ranges and help, each declared once and bound to the VigilConfig field it
// fills; [query] is the query module's, [[sensors]] and [[pipeline]] options are their
// types'), loading it into a VigilConfig, and the checks that span
// keys (sensor names unique, options that fit together). Errors are
// "file:line:column: key: reason". docs/configuration.md documents every key; a test
// keeps it in step with this schema.
//
// Thread safety: pure functions; VigilConfig is a plain value.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/config.h"
#include "model/labels.h"
#include "pipeline/pipeline.h"
#include "query/engine.h"
#include "rules/rule_file.h"
#include "sensors/sensor.h"
#include "store/postgres/postgres_store.h"
#include "tsdb/tsdb_store.h"

namespace vigil::roles {

// Each plain section's struct holds its keys with their defaults; roles/config.cc binds
// every key to its field once (core/config_map.h), and that declaration is the schema.
struct VigilConfig {
  struct Log {
    std::string level = "info";
  } log;

  struct Rules {
    std::vector<std::string> files;  // globs, relative to base_dir
    std::string base_dir;            // the config file's folder; not a key
    std::chrono::milliseconds evaluation_interval{60'000};
    std::chrono::milliseconds outage_tolerance{3'600'000};
    std::chrono::milliseconds for_grace_period{600'000};
  } rules;
  // What rules.files held when the config was loaded, checked.
  std::vector<vigil::rules::GroupSpec> rule_groups;

  struct Agent {
    std::string id;  // empty in the file: the host name
    std::chrono::milliseconds flush_interval{1000};
    int64_t max_batch_samples = 10'000;
    int64_t spool_max_mb = 256;  // 0: no spool
    double drain_rate = 100;
    std::string replay = "ordered";
    int64_t breaker_failures = 3;
    std::chrono::milliseconds breaker_cooldown{1000};
  } agent;

  struct Web {
    std::string listen = "127.0.0.1:8080";
    // Where `vigil sensor` and `vigil coordinator` serve /metrics, /healthz and /readyz;
    // empty: not served (the other roles serve them on `listen`).
    std::string metrics_listen;
    std::string write_token;  // empty: the write endpoints are open
    // Origins besides the server's own that may open /ws and write (web/http.h).
    std::vector<std::string> allowed_origins;
    std::string tls_cert_file;  // both set: HTTPS
    std::string tls_key_file;
    // The user's own dashboard definitions (web/dashboards.h); empty: <data_dir>/dashboards.
    std::string dashboards_dir;
  } web;

  query::EngineOptions query;  // the web servers' [query]; its defaults are the schema's

  struct Storage {
    std::string data_dir = "./data";
    std::string url;  // empty: the embedded store in data_dir
    std::chrono::milliseconds retention{15 * 86'400'000LL};
    int64_t retention_size_mb = 0;
    // Embedded store: downsampled tiers, "<resolution>:<retention>" (TierOptionsFrom).
    std::vector<std::string> tiers = {"1h:90d"};
    std::string wal_fsync = "always";
    std::chrono::milliseconds wal_fsync_interval{1000};
    std::chrono::milliseconds out_of_order_window{0};
    int64_t max_points_per_query = 5'000'000;
    int64_t chunk_cache_mb = 64;
    model::LabelLimits label_limits;  // checked at ingest: HTTP writes, the datamanager
    int64_t pool_size = 4;            // PostgreSQL
    std::chrono::milliseconds statement_timeout{30'000};
    int64_t partition_days = 1;
    int64_t partitions_ahead = 2;
  } storage;

  struct Broker {
    std::string url;
    std::string queue_type = "classic";
    int64_t prefetch = 64;
    std::chrono::milliseconds confirm_timeout{10'000};
    std::string tls_ca_file, tls_cert_file, tls_key_file;  // for amqps://
  } broker;

  struct Bus {
    int64_t queue_length = 1024;
    std::string overflow = "block";
    std::chrono::milliseconds publish_timeout{30'000};
  } bus;

  struct Sink {
    bool enabled = true;
    std::string file = "events.jsonl";
    int64_t max_size_mb = 64;
    int64_t keep = 5;
    bool sync = false;
    bool compress = false;
  } sink;

  std::vector<sensors::SensorSpec> sensors;

  // The coordinator's pipeline, one [[pipeline]] table a stage, in order (docs/pipeline.md).
  struct PipelineStage {
    std::string stage;  // filter, relabel, match
    std::string name;   // its name in vigil_pipeline_samples_total{stage}
    config::OptionValues options;
    std::string where;  // file:line:column, for errors
  };
  std::vector<PipelineStage> pipeline;

  struct Coordinator {
    int64_t workers = 4;
  } coordinator;

  struct Alerting {
    std::chrono::milliseconds evaluation_interval{1000};
    bool agent_offline = true;
    int64_t offline_intervals = 3;
    std::vector<std::string> webhooks;
    std::vector<std::string> alertmanagers;  // base URLs; the ruler posts /api/v2/alerts
    std::chrono::milliseconds webhook_timeout{5000};
    int64_t webhook_max_attempts = 5;
    std::string external_url;  // empty: http://<web listen>
  } alerting;

  // The [[alerts]] tables, each an alerting rule of the ruler's built-in group (its
  // severity among its labels; docs/alerts.md).
  std::vector<vigil::rules::RuleSpec> alerts;
};

// The schema of vigil.toml.
const config::Schema& VigilSchema();

// Loads and validates a file; every error of the file in one InvalidArgument.
Result<VigilConfig> LoadVigilConfig(const std::string& path);
// The same from text (for tests and check-config of stdin).
Result<VigilConfig> ParseVigilConfig(std::string_view text, const std::string& source_name);

// Checks that need more than one key, and that every sensor can be built; used after
// command-line overrides too.
Status ValidateVigilConfig(const VigilConfig& config);
// The rule files config.rules names, read again (a reload), checked.
vigil::rules::LoadedRules LoadRuleFilesOf(const VigilConfig& config);

// One [[pipeline]] stage, built; InvalidArgument with "key: reason" lines
// (config::OptionProblems).
Result<std::unique_ptr<pipeline::Stage>> BuildPipelineStage(const VigilConfig::PipelineStage& spec);
// The stages of the config's [[pipeline]], built; InvalidArgument naming the table.
Result<std::vector<std::unique_ptr<pipeline::Stage>>> BuildPipelineStages(
    const VigilConfig& config);

// Agent ids hold letters, digits, '-', '_' and '.' (they become queue names).
bool IsAgentIdChar(char c);

// "host:port" with a port 1..65535 (port 0 allowed: any free port).
Status CheckListenAddress(std::string_view address);

// The embedded store's options from [storage]: data_dir/tsdb and the retention, log
// and query settings.
tsdb::TsdbOptions TsdbOptionsFrom(const VigilConfig::Storage& storage);
// [storage] tiers: each "<resolution>:<retention>" ("5m:90d"; "1h" alone is kept
// forever), checked as the store checks them.
Result<std::vector<tsdb::TierOptions>> TierOptionsFrom(const std::vector<std::string>& tiers);
store::postgres::PostgresOptions PostgresOptionsFrom(const VigilConfig::Storage& storage);

}  // namespace vigil::roles
