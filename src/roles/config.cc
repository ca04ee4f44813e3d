#include "roles/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "core/logging.h"
#include "core/names.h"
#include "core/url.h"
#include "model/selector.h"
#include "pipeline/stages.h"
#include "query/parser.h"
#include "rules/template.h"
#include "sensors/registry.h"

namespace vigil::roles {

using config::OptionSpec;
using config::OptionType;
using config::OptionValue;
using std::chrono::milliseconds;

bool IsAgentIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

Status CheckListenAddress(std::string_view address) {
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return InvalidArgumentError("expected host:port, got \"" + std::string(address) + "\"");
  }
  std::string_view port = address.substr(colon + 1);
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || value > 65535) {
      return InvalidArgumentError("invalid port in \"" + std::string(address) + "\"");
    }
    value = value * 10 + (c - '0');
  }
  if (port.empty() || value > 65535) {
    return InvalidArgumentError("invalid port in \"" + std::string(address) + "\"");
  }
  return OkStatus();
}

namespace {

// Adapts a Status-returning check to an OptionSpec check.
std::function<std::optional<std::string>(const OptionValue&)> StringCheck(
    std::function<Status(const std::string&)> check) {
  return [check](const OptionValue& value) -> std::optional<std::string> {
    Status status = check(std::get<std::string>(value));
    if (status.ok()) return std::nullopt;
    return status.message();
  };
}

Status CheckUrlScheme(const std::string& url, std::initializer_list<std::string_view> schemes) {
  if (url.empty()) return OkStatus();
  for (auto scheme : schemes) {
    if (url.rfind(std::string(scheme) + "://", 0) == 0) return OkStatus();
  }
  std::string list;
  for (auto scheme : schemes) list += (list.empty() ? "" : " or ") + std::string(scheme) + "://";
  return InvalidArgumentError("expected a URL starting with " + list + ", got \"" + RedactUrl(url) +
                              "\"");
}

Status CheckAgentId(const std::string& id) {
  for (char c : id) {
    if (!IsAgentIdChar(c)) {
      return InvalidArgumentError("may hold only letters, digits, '-', '_' and '.'");
    }
  }
  return OkStatus();
}

config::Schema BuildSchema() {
  // Defaults that modules own are taken from their options structs, not written again.
  const query::EngineOptions kQuery;
  const model::LabelLimits kLabelLimits;
  config::Schema schema;
  schema.sections.push_back(
      {"log",
       "Logging to standard error.",
       {OptionSpec{"level",
                   OptionType::kString,
                   "Least severe level logged.",
                   std::string("info"),
                   std::nullopt,
                   std::nullopt,
                   {"trace", "debug", "info", "warn", "error", "critical", "off"}}}});
  schema.sections.push_back(
      {"agent",
       "The sensor agent: runs the [[sensors]] and publishes their readings in batches.",
       {OptionSpec{"id",
                   OptionType::kString,
                   "Name of this agent, unique among agents; its data queue is vigil.data.<id>. "
                   "Empty: the host name.",
                   std::string(""),
                   std::nullopt,
                   std::nullopt,
                   {},
                   StringCheck(CheckAgentId)},
        OptionSpec{"flush_interval", OptionType::kDuration,
                   "How often readings are sent as one batch.", milliseconds(1000), 0.01, 60.0},
        OptionSpec{"max_batch_samples", OptionType::kInt,
                   "A batch is sent early when it holds this many samples.", int64_t{10'000}, 1.0,
                   1'000'000.0},
        OptionSpec{
            "spool_max_mb", OptionType::kInt,
            "Batches the bus refuses wait in <data_dir>/spool/<agent id>, up to this size (the "
            "oldest are dropped beyond it); 0: no spool, such batches are lost.",
            int64_t{256}, 0.0, 1'000'000.0},
        OptionSpec{"drain_rate", OptionType::kFloat,
                   "Spooled batches replayed per second once the bus takes them again; above "
                   "the normal rate (1 batch per flush_interval) so the spool empties.",
                   100.0, 0.1, 1e6},
        OptionSpec{"replay",
                   OptionType::kString,
                   "ordered: new batches wait until the spool is empty; backfill: they go at "
                   "once, the spool drains beside them.",
                   std::string("ordered"),
                   std::nullopt,
                   std::nullopt,
                   {"ordered", "backfill"}},
        OptionSpec{"breaker_failures", OptionType::kInt,
                   "Failed publishes in a row that trip the circuit breaker (then batches go "
                   "straight to the spool).",
                   int64_t{3}, 1.0, 1000.0},
        OptionSpec{"breaker_cooldown", OptionType::kDuration,
                   "How long the open breaker waits before one trial publish; doubles after each "
                   "failed trial, up to 10 s.",
                   milliseconds(1000), 0.01, 10.0}}});
  schema.sections.push_back(
      {"web",
       "The HTTP server (dashboard, query API, /metrics).",
       {OptionSpec{"listen",
                   OptionType::kString,
                   "Address to listen on, host:port.",
                   std::string("127.0.0.1:8080"),
                   std::nullopt,
                   std::nullopt,
                   {},
                   StringCheck([](const std::string& s) { return CheckListenAddress(s); })},
        OptionSpec{"metrics_listen",
                   OptionType::kString,
                   "Where vigil sensor and vigil coordinator serve /metrics, /healthz and "
                   "/readyz, host:port; empty: not served.",
                   std::string(""),
                   std::nullopt,
                   std::nullopt,
                   {},
                   StringCheck([](const std::string& s) {
                     return s.empty() ? OkStatus() : CheckListenAddress(s);
                   })},
        OptionSpec{"write_token", OptionType::kString,
                   "When set, the write endpoints need Authorization: Bearer <token>; "
                   "VIGIL_WRITE_TOKEN overrides it. Never logged.",
                   std::string("")},
        OptionSpec{"allowed_origins", OptionType::kStrings,
                   "Web origins (scheme://host:port) besides the server's own whose pages may "
                   "open /ws and write; \"*\" allows any. Requests without an Origin header "
                   "(agents, curl) are not affected.",
                   config::StringList{}},
        OptionSpec{"tls_cert_file", OptionType::kString,
                   "PEM certificate chain; with tls_key_file, serve HTTPS and wss://.",
                   std::string("")},
        OptionSpec{"tls_key_file", OptionType::kString, "PEM private key for tls_cert_file.",
                   std::string("")}}});
  schema.sections.push_back(
      {"query",
       "PromQL evaluation by the web servers (Prometheus's --query.* flags).",
       {OptionSpec{"timeout", OptionType::kDuration,
                   "A query running (or waiting for a query thread) longer fails with 503 "
                   "\"timeout\".",
                   milliseconds(kQuery.timeout_ms), 0.001, 86'400.0},
        OptionSpec{"max_concurrency", OptionType::kInt,
                   "Queries evaluated at once per web server; more wait, up to the timeout. "
                   "Writes, the dashboard and health probes have threads of their own.",
                   kQuery.max_concurrency, 1.0, 1024.0},
        OptionSpec{"max_samples", OptionType::kInt,
                   "Samples one query may load; beyond it the query fails with 422.",
                   kQuery.max_samples, 1.0, 1e12},
        OptionSpec{"max_samples_in_flight", OptionType::kInt,
                   "Samples all running queries together may load, bounding their memory; a "
                   "query beyond it fails with 503 (try again).",
                   kQuery.max_samples_in_flight, 1.0, 1e12},
        OptionSpec{"lookback_delta", OptionType::kDuration,
                   "How far back an instant selector looks for a series' latest sample.",
                   milliseconds(kQuery.lookback_ms), 0.001, 86'400.0}}});
  schema.sections.push_back(
      {"storage",
       "Where data is kept.",
       {OptionSpec{"data_dir", OptionType::kString,
                   "Folder of the embedded store, the spool and the file sink.",
                   std::string("./data")},
        OptionSpec{"url",
                   OptionType::kString,
                   "postgres://... to store in PostgreSQL; empty: the embedded store in data_dir.",
                   std::string(""),
                   std::nullopt,
                   std::nullopt,
                   {},
                   StringCheck([](const std::string& s) {
                     return CheckUrlScheme(s, {"postgres", "postgresql"});
                   })},
        OptionSpec{"retention", OptionType::kDuration,
                   "Chunks (embedded store) or daily partitions (PostgreSQL) older than this "
                   "are deleted; 0: keep forever.",
                   milliseconds(15 * 86'400'000LL), 0.0, 100.0 * 365 * 86'400},
        OptionSpec{"retention_size_mb", OptionType::kInt,
                   "Embedded store: oldest chunks are deleted beyond this size; 0: no limit.",
                   int64_t{0}, 0.0, 1e9},
        OptionSpec{"wal_fsync",
                   OptionType::kString,
                   "Embedded store: always (an acknowledged batch survives a power cut) or "
                   "interval (survives a process crash; a power cut loses up to "
                   "wal_fsync_interval).",
                   std::string("always"),
                   std::nullopt,
                   std::nullopt,
                   {"always", "interval"}},
        OptionSpec{"wal_fsync_interval", OptionType::kDuration,
                   "Embedded store: how often the log is synced with wal_fsync = interval.",
                   milliseconds(1000), 0.001, 60.0},
        OptionSpec{"out_of_order_window", OptionType::kDuration,
                   "Embedded store: samples this much older than their series' newest are "
                   "rejected (and counted); 0: no limit.",
                   milliseconds(86'400'000), 0.0, 7.0 * 86'400},
        OptionSpec{"label_limit", OptionType::kInt,
                   "Labels (the name included) a series may have; one with more is refused "
                   "and counted. 0: no limit.",
                   static_cast<int64_t>(kLabelLimits.max_labels), 0.0, 1e6},
        OptionSpec{"label_name_length_limit", OptionType::kInt,
                   "Bytes a label name may have; a longer one refuses its series. 0: no limit.",
                   static_cast<int64_t>(kLabelLimits.max_name_length), 0.0, 1e6},
        OptionSpec{"label_value_length_limit", OptionType::kInt,
                   "Bytes a label value may have; a longer one refuses its series. 0: no limit.",
                   static_cast<int64_t>(kLabelLimits.max_value_length), 0.0, 1e6},
        OptionSpec{"max_points_per_query", OptionType::kInt,
                   "Points one store read may return (a pushed-down function's steps, "
                   "/federate, remote read) before it fails with a clear error; the query "
                   "engine's raw reads are limited by [query] max_samples instead.",
                   int64_t{5'000'000}, 1.0, 1e10},
        OptionSpec{"pool_size", OptionType::kInt,
                   "PostgreSQL: connections per process (appends and queries share them).",
                   int64_t{4}, 1.0, 100.0},
        OptionSpec{"statement_timeout", OptionType::kDuration,
                   "PostgreSQL: a statement running longer is cancelled (the batch is retried, "
                   "the query fails).",
                   milliseconds(30'000), 0.01, 3600.0},
        OptionSpec{"partition_days", OptionType::kInt,
                   "PostgreSQL: days per partition of the samples table.", int64_t{1}, 1.0, 366.0},
        OptionSpec{"partitions_ahead", OptionType::kInt,
                   "PostgreSQL: partitions made ahead of the current one.", int64_t{2}, 0.0,
                   366.0}}});
  schema.sections.push_back(
      {"broker",
       "RabbitMQ, for the distributed roles.",
       {OptionSpec{"url",
                   OptionType::kString,
                   "amqp://user:password@host:5672/vhost or amqps://...; credentials are never "
                   "logged.",
                   std::string(""),
                   std::nullopt,
                   std::nullopt,
                   {},
                   StringCheck([](const std::string& s) {
                     return CheckUrlScheme(s, {"amqp", "amqps"});
                   })},
        OptionSpec{"queue_type",
                   OptionType::kString,
                   "Type of the durable queues.",
                   std::string("classic"),
                   std::nullopt,
                   std::nullopt,
                   {"classic", "quorum"}},
        OptionSpec{"prefetch", OptionType::kInt, "Unacknowledged messages a consumer may hold.",
                   int64_t{64}, 1.0, 65535.0},
        OptionSpec{"confirm_timeout", OptionType::kDuration,
                   "A publish the broker has not confirmed in this long fails (the publisher "
                   "spools or retries it) and the connection is made again.",
                   milliseconds(10'000), 0.1, 3600.0},
        OptionSpec{"tls_ca_file", OptionType::kString,
                   "amqps://: PEM certificates that verify the broker's; empty: the system's "
                   "(/etc/ssl/certs/ca-certificates.crt).",
                   std::string("")},
        OptionSpec{"tls_cert_file", OptionType::kString,
                   "amqps://: a PEM client certificate, for brokers that ask for one; with "
                   "tls_key_file.",
                   std::string("")},
        OptionSpec{"tls_key_file", OptionType::kString,
                   "amqps://: the PEM private key of tls_cert_file.", std::string("")}}});
  schema.sections.push_back(
      {"bus",
       "Queues of the in-process bus (standalone).",
       {OptionSpec{"queue_length", OptionType::kInt, "Messages (batches) a queue holds at most.",
                   int64_t{1024}, 1.0, 1'000'000.0},
        OptionSpec{"overflow",
                   OptionType::kString,
                   "What a full queue does to a publisher: block (backpressure) or reject.",
                   std::string("block"),
                   std::nullopt,
                   std::nullopt,
                   {"block", "reject"}},
        OptionSpec{"publish_timeout", OptionType::kDuration,
                   "How long a publisher blocked by a full queue waits before giving up.",
                   milliseconds(30'000), 0.001, 3600.0}}});
  schema.sections.push_back(
      {"sink",
       "The JSON-lines file sink: every sample the datamanager stores, one JSON object a line.",
       {OptionSpec{"enabled", OptionType::kBool, "Write the file.", true},
        OptionSpec{"file",
                   OptionType::kString,
                   "File name inside data_dir.",
                   std::string("events.jsonl"),
                   std::nullopt,
                   std::nullopt,
                   {},
                   StringCheck([](const std::string& s) {
                     if (s.empty() || s.find('/') != std::string::npos) {
                       return InvalidArgumentError("must be a plain file name");
                     }
                     return OkStatus();
                   })},
        OptionSpec{"max_size_mb", OptionType::kInt, "The file is rotated at this size (MiB).",
                   int64_t{64}, 1.0, 1'048'576.0},
        OptionSpec{"keep", OptionType::kInt, "Rotated files kept (file.1 ... file.N).", int64_t{5},
                   0.0, 1000.0},
        OptionSpec{"sync", OptionType::kBool,
                   "fsync the file before acknowledging each batch (slower, survives power loss).",
                   false},
        OptionSpec{"compress", OptionType::kBool, "gzip rotated files (file.1.gz ...).", false}}});

  config::SectionSpec sensors{
      "sensors",
      "One [[sensors]] table per sensor; the options after name, type and labels depend on the "
      "type (docs/sensors.md).",
      {OptionSpec{"name",
                  OptionType::kString,
                  "Unique name; for single-series types the metric name (boiler_pressure_out).",
                  std::nullopt,
                  std::nullopt,
                  std::nullopt,
                  {},
                  StringCheck([](const std::string& s) {
                    if (!IsValidMetricName(s)) {
                      return InvalidArgumentError("invalid metric name \"" + s +
                                                  "\" (must match [a-zA-Z_:][a-zA-Z0-9_:]*)");
                    }
                    return OkStatus();
                  })},
       OptionSpec{"type", OptionType::kString, "Sensor type.", std::string("simulated")},
       OptionSpec{"labels", OptionType::kLabels, "Labels added to every series of this sensor.",
                  config::LabelMap{}}},
      /*repeated=*/true};
  sensors.extra_options =
      [](const config::OptionValues& common) -> Result<std::vector<OptionSpec>> {
    const std::string& type = common.String("type");
    const sensors::SensorDescriptor* descriptor = sensors::FindSensorType(type);
    if (descriptor == nullptr) {
      std::vector<std::string> known;
      for (const auto& d : sensors::SensorTypes()) known.push_back(d.type);
      return InvalidArgumentError(fmt::format("type: unknown sensor type \"{}\" (known: {}){}",
                                              type, fmt::join(known, ", "),
                                              config::DidYouMean(type, known)));
    }
    return descriptor->options;
  };
  schema.sections.push_back(std::move(sensors));

  config::SectionSpec pipeline{
      "pipeline",
      "The coordinator's pipeline: one [[pipeline]] table per stage, applied in order to every "
      "batch (docs/pipeline.md).",
      {OptionSpec{"stage",
                  OptionType::kString,
                  "filter, relabel, match or downsample.",
                  std::nullopt,
                  std::nullopt,
                  std::nullopt,
                  {"filter", "relabel", "match", "downsample"}},
       OptionSpec{"name", OptionType::kString,
                  "Name in vigil_pipeline_samples_total{stage}; empty: the stage and its position "
                  "(relabel_2).",
                  std::string()}},
      /*repeated=*/true};
  pipeline.extra_options =
      [](const config::OptionValues& common) -> Result<std::vector<OptionSpec>> {
    auto selectors = [](const config::OptionValue& value) -> std::optional<std::string> {
      for (const auto& text : std::get<config::StringList>(value)) {
        if (auto parsed = model::ParseSelector(text); !parsed.ok())
          return "\"" + text + "\": " + parsed.status().message();
      }
      return std::nullopt;
    };
    auto selector = [](const config::OptionValue& value) -> std::optional<std::string> {
      if (auto parsed = model::ParseSelector(std::get<std::string>(value)); !parsed.ok())
        return parsed.status().message();
      return std::nullopt;
    };
    const std::string& stage = common.String("stage");
    if (stage == "filter") {
      return std::vector<OptionSpec>{
          OptionSpec{"keep",
                     OptionType::kStrings,
                     "Selectors; when any are given, only series matching one of them stay.",
                     config::StringList{},
                     std::nullopt,
                     std::nullopt,
                     {},
                     selectors},
          OptionSpec{"drop",
                     OptionType::kStrings,
                     "Selectors; series matching one of them go.",
                     config::StringList{},
                     std::nullopt,
                     std::nullopt,
                     {},
                     selectors}};
    }
    if (stage == "relabel") {
      return std::vector<OptionSpec>{
          OptionSpec{"action",
                     OptionType::kString,
                     "What the rule does (Prometheus's relabel_config actions).",
                     std::string("replace"),
                     std::nullopt,
                     std::nullopt,
                     {"replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep", "hashmod"}},
          OptionSpec{"source_labels", OptionType::kStrings,
                     "Labels whose values, joined by separator, the regex is matched against.",
                     config::StringList{}},
          OptionSpec{"separator", OptionType::kString, "Joins the source labels' values.",
                     std::string(";")},
          OptionSpec{"target_label", OptionType::kString,
                     "The label replace and hashmod write; may use the regex's groups.",
                     std::string()},
          OptionSpec{"regex", OptionType::kString, "RE2 regular expression, anchored at both ends.",
                     std::string("(.*)")},
          OptionSpec{"modulus", OptionType::kInt, "For hashmod: the number of shards.", int64_t{0},
                     0.0, 1e9},
          OptionSpec{"replacement", OptionType::kString,
                     "What replace writes and labelmap names labels: $1, ${1}, $name groups.",
                     std::string("$1")}};
    }
    if (stage == "downsample") {
      auto functions = [](const config::OptionValue& value) -> std::optional<std::string> {
        const auto& list = std::get<config::StringList>(value);
        if (list.empty()) return std::string("at least one function");
        for (const auto& word : list) {
          if (auto fn = pipeline::ParseDownsampleFunction(word); !fn.ok())
            return fn.status().message();
        }
        return std::nullopt;
      };
      auto optional_selector = [selector](const config::OptionValue& value) {
        return std::get<std::string>(value).empty() ? std::nullopt : selector(value);
      };
      return std::vector<OptionSpec>{
          OptionSpec{"window", OptionType::kDuration, "Length of each window.",
                     std::chrono::milliseconds(60'000), 1.0, 86400.0},
          OptionSpec{"functions",
                     OptionType::kStrings,
                     "What each closed window emits: avg, min, max, last, count.",
                     config::StringList{"avg"},
                     std::nullopt,
                     std::nullopt,
                     {},
                     functions},
          OptionSpec{"mode",
                     OptionType::kString,
                     "add: the aggregates beside the raw series; replace: instead of them.",
                     std::string("add"),
                     std::nullopt,
                     std::nullopt,
                     {"add", "replace"}},
          OptionSpec{"selector",
                     OptionType::kString,
                     "The series to downsample; empty: every series.",
                     std::string(),
                     std::nullopt,
                     std::nullopt,
                     {},
                     optional_selector}};
    }
    return std::vector<OptionSpec>{OptionSpec{"selector",
                                              OptionType::kString,
                                              "The series to tag.",
                                              std::nullopt,
                                              std::nullopt,
                                              std::nullopt,
                                              {},
                                              selector},
                                   OptionSpec{"add_labels", OptionType::kLabels,
                                              "Labels the matching series get.", std::nullopt}};
  };
  schema.sections.push_back(std::move(pipeline));

  schema.sections.push_back(
      {"coordinator",
       "The coordinator's pipeline shards.",
       {OptionSpec{"workers", OptionType::kInt,
                   "Shards of the pipeline and the alert rules; each agent's batches go to one, "
                   "and agents on different shards are processed in parallel.",
                   int64_t{4}, 1.0, 64.0}}});

  schema.sections.push_back(
      {"rules",
       "Prometheus rule files: alerting and recording rules evaluated over the stored data "
       "(docs/alerts.md).",
       {OptionSpec{"files", OptionType::kStrings,
                   "Rule files, as Prometheus's rule_files: paths or globs, relative to this "
                   "file's folder (`[\"rules/*.yml\"]`).",
                   config::StringList{}},
        OptionSpec{"evaluation_interval", OptionType::kDuration,
                   "How often a group is evaluated when it names no `interval`.",
                   milliseconds(60'000), 0.1, 86400.0},
        OptionSpec{"outage_tolerance", OptionType::kDuration,
                   "How long vigil may be down for a pending or firing alert's `for` state "
                   "to be restored (Prometheus's --rules.alert.for-outage-tolerance).",
                   milliseconds(3'600'000), 0.0, 31.0 * 86400.0},
        OptionSpec{"for_grace_period", OptionType::kDuration,
                   "A restored alert whose `for` is at least this long waits at least this "
                   "long before it fires (Prometheus's --rules.alert.for-grace-period).",
                   milliseconds(600'000), 0.0, 86400.0}}});

  auto urls = [](const OptionValue& value) -> std::optional<std::string> {
    for (const auto& url : std::get<config::StringList>(value)) {
      if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
        return "\"" + url + "\" is not an http:// or https:// URL";
    }
    return std::nullopt;
  };
  schema.sections.push_back(
      {"alerting",
       "The ruler's built-in group ([[alerts]] and VigilAgentOffline), the coordinators' "
       "heartbeat series, and where alerts are sent (docs/alerts.md).",
       {OptionSpec{"evaluation_interval", OptionType::kDuration,
                   "How often the coordinators publish their heartbeat series and the ruler "
                   "evaluates its built-in group: the [[alerts]] rules and VigilAgentOffline.",
                   milliseconds(1000), 0.1, 3600.0},
        OptionSpec{"agent_offline", OptionType::kBool,
                   "The ruler's built-in rule VigilAgentOffline: no coordinator heard of an "
                   "agent for offline_intervals times its shortest sensor interval.",
                   true},
        OptionSpec{"offline_intervals", OptionType::kInt,
                   "Intervals without a batch before an agent is offline.", int64_t{3}, 1.0,
                   1000.0},
        OptionSpec{"webhooks",
                   OptionType::kStrings,
                   "URLs that receive firing and resolved alerts in Alertmanager's webhook format.",
                   config::StringList{},
                   std::nullopt,
                   std::nullopt,
                   {},
                   urls},
        OptionSpec{"alertmanagers",
                   OptionType::kStrings,
                   "Alertmanagers (http://host:9093) the rule files' alerts are sent to, as "
                   "Prometheus sends them: POST /api/v2/alerts, again every minute.",
                   config::StringList{},
                   std::nullopt,
                   std::nullopt,
                   {},
                   urls},
        OptionSpec{"webhook_timeout", OptionType::kDuration, "Timeout of one webhook request.",
                   milliseconds(5000), 0.1, 300.0},
        OptionSpec{"webhook_max_attempts", OptionType::kInt,
                   "Attempts per payload, with exponential backoff between them.", int64_t{5}, 1.0,
                   100.0},
        OptionSpec{"external_url", OptionType::kString,
                   "externalURL and generatorURL in webhook payloads; empty: http://<web listen>.",
                   std::string()}}});

  auto templates = [](const OptionValue& value) -> std::optional<std::string> {
    for (const auto& [name, text] : std::get<config::LabelMap>(value)) {
      if (auto t = vigil::rules::Template::Parse(text); !t.ok())
        return name + ": " + t.status().message();
    }
    return std::nullopt;
  };
  schema.sections.push_back(
      {"alerts",
       "Alerting rules in vigil.toml, one [[alerts]] table each: the ruler evaluates them "
       "with VigilAgentOffline every [alerting] evaluation_interval (docs/alerts.md).",
       {OptionSpec{"name",
                   OptionType::kString,
                   "The alert's name (its alertname label).",
                   std::nullopt,
                   std::nullopt,
                   std::nullopt,
                   {},
                   [](const OptionValue& value) -> std::optional<std::string> {
                     if (!IsValidMetricName(std::get<std::string>(value)))
                       return std::string("must be a valid metric name");
                     return std::nullopt;
                   }},
        OptionSpec{"expr",
                   OptionType::kString,
                   "Its condition, in PromQL as a rule file's expr: each series it returns "
                   "is an alert (`boiler_pressure_out > 15.4`, `absent(up{job=\"x\"})`).",
                   std::nullopt,
                   std::nullopt,
                   std::nullopt,
                   {},
                   [](const OptionValue& value) -> std::optional<std::string> {
                     if (auto e = query::Parse(std::get<std::string>(value)); !e.ok())
                       return e.status().message();
                     return std::nullopt;
                   }},
        OptionSpec{"for", OptionType::kDuration,
                   "How long the condition must hold before the alert fires (pending until then).",
                   milliseconds(0), 0.0, 30.0 * 86400},
        OptionSpec{"keep_firing_for", OptionType::kDuration,
                   "How long a firing alert stays firing after its condition cleared.",
                   milliseconds(0), 0.0, 30.0 * 86400},
        OptionSpec{"severity",
                   OptionType::kString,
                   "Its severity label and the routing key alerts.<severity>.",
                   std::string("warning"),
                   std::nullopt,
                   std::nullopt,
                   {"info", "warning", "critical"}},
        OptionSpec{"labels",
                   OptionType::kLabels,
                   "Labels the alert gets; templates as in rule files ({{ $labels.<name> }}, "
                   "{{ $value }}, humanize ...).",
                   config::LabelMap{},
                   std::nullopt,
                   std::nullopt,
                   {},
                   templates},
        OptionSpec{"annotations",
                   OptionType::kLabels,
                   "Texts that describe the alert (summary, description ...); templates as in "
                   "rule files.",
                   config::LabelMap{},
                   std::nullopt,
                   std::nullopt,
                   {},
                   templates}},
       /*repeated=*/true});
  return schema;
}

// Reads the loaded sections into a VigilConfig and checks what the schema cannot (options
// that go together, duplicate names, each sensor and stage as it would be built); every
// error goes into `loaded`, so one run reports them all.
Result<VigilConfig> FromLoaded(config::LoadedConfig& loaded, const std::string& base_dir) {
  VigilConfig c;
  const auto& log = loaded.sections.at("log");
  c.log_level = log.String("level");
  const auto& agent = loaded.sections.at("agent");
  c.agent.id = agent.String("id");
  c.agent.flush_interval = agent.Duration("flush_interval");
  c.agent.max_batch_samples = agent.Int("max_batch_samples");
  c.agent.spool_max_mb = agent.Int("spool_max_mb");
  c.agent.drain_rate = agent.Float("drain_rate");
  c.agent.replay = agent.String("replay");
  c.agent.breaker_failures = agent.Int("breaker_failures");
  c.agent.breaker_cooldown = agent.Duration("breaker_cooldown");
  c.web.listen = loaded.sections.at("web").String("listen");
  c.web.metrics_listen = loaded.sections.at("web").String("metrics_listen");
  c.web.write_token = loaded.sections.at("web").String("write_token");
  c.web.allowed_origins = loaded.sections.at("web").Strings("allowed_origins");
  c.web.tls_cert_file = loaded.sections.at("web").String("tls_cert_file");
  c.web.tls_key_file = loaded.sections.at("web").String("tls_key_file");
  if (c.web.tls_cert_file.empty() != c.web.tls_key_file.empty()) {
    bool has_cert = !c.web.tls_cert_file.empty();
    loaded.AddError("web", has_cert ? "tls_cert_file" : "tls_key_file",
                    has_cert ? "needs tls_key_file as well" : "needs tls_cert_file as well");
  }
  if (const char* token = std::getenv("VIGIL_WRITE_TOKEN"); token && *token)
    c.web.write_token = token;
  const auto& query = loaded.sections.at("query");
  c.query.timeout_ms = query.Duration("timeout").count();
  c.query.max_concurrency = query.Int("max_concurrency");
  c.query.max_samples = query.Int("max_samples");
  c.query.max_samples_in_flight = query.Int("max_samples_in_flight");
  c.query.lookback_ms = query.Duration("lookback_delta").count();
  const auto& storage = loaded.sections.at("storage");
  c.storage.data_dir = storage.String("data_dir");
  c.storage.url = storage.String("url");
  c.storage.retention = storage.Duration("retention");
  c.storage.retention_size_mb = storage.Int("retention_size_mb");
  c.storage.wal_fsync = storage.String("wal_fsync");
  c.storage.wal_fsync_interval = storage.Duration("wal_fsync_interval");
  c.storage.out_of_order_window = storage.Duration("out_of_order_window");
  c.storage.max_points_per_query = storage.Int("max_points_per_query");
  c.storage.label_limits.max_labels = static_cast<size_t>(storage.Int("label_limit"));
  c.storage.label_limits.max_name_length =
      static_cast<size_t>(storage.Int("label_name_length_limit"));
  c.storage.label_limits.max_value_length =
      static_cast<size_t>(storage.Int("label_value_length_limit"));
  c.storage.pool_size = storage.Int("pool_size");
  c.storage.statement_timeout = storage.Duration("statement_timeout");
  c.storage.partition_days = storage.Int("partition_days");
  c.storage.partitions_ahead = storage.Int("partitions_ahead");
  const auto& broker = loaded.sections.at("broker");
  c.broker.url = broker.String("url");
  c.broker.queue_type = broker.String("queue_type");
  c.broker.prefetch = broker.Int("prefetch");
  c.broker.confirm_timeout = broker.Duration("confirm_timeout");
  c.broker.tls_ca_file = broker.String("tls_ca_file");
  c.broker.tls_cert_file = broker.String("tls_cert_file");
  c.broker.tls_key_file = broker.String("tls_key_file");
  if (c.broker.tls_cert_file.empty() != c.broker.tls_key_file.empty()) {
    bool has_cert = !c.broker.tls_cert_file.empty();
    loaded.AddError("broker", has_cert ? "tls_cert_file" : "tls_key_file",
                    has_cert ? "needs tls_key_file as well" : "needs tls_cert_file as well");
  }
  const auto& bus = loaded.sections.at("bus");
  c.bus.queue_length = bus.Int("queue_length");
  c.bus.overflow = bus.String("overflow");
  c.bus.publish_timeout = bus.Duration("publish_timeout");
  const auto& sink = loaded.sections.at("sink");
  c.sink.enabled = sink.Bool("enabled");
  c.sink.file = sink.String("file");
  c.sink.max_size_mb = sink.Int("max_size_mb");
  c.sink.keep = sink.Int("keep");
  c.sink.sync = sink.Bool("sync");
  c.sink.compress = sink.Bool("compress");
  c.coordinator.workers = loaded.sections.at("coordinator").Int("workers");
  const auto& alerting = loaded.sections.at("alerting");
  c.alerting.evaluation_interval = alerting.Duration("evaluation_interval");
  c.alerting.agent_offline = alerting.Bool("agent_offline");
  c.alerting.offline_intervals = alerting.Int("offline_intervals");
  c.alerting.webhooks = alerting.Strings("webhooks");
  c.alerting.alertmanagers = alerting.Strings("alertmanagers");
  c.alerting.webhook_timeout = alerting.Duration("webhook_timeout");
  c.alerting.webhook_max_attempts = alerting.Int("webhook_max_attempts");
  c.alerting.external_url = alerting.String("external_url");
  for (const auto& entry : loaded.repeated.at("alerts")) {
    if (entry.has_errors) continue;
    vigil::rules::RuleSpec rule;
    rule.name = entry.values.String("name");
    rule.expr = entry.values.String("expr");
    rule.for_ms = entry.values.Duration("for").count();
    rule.keep_firing_for_ms = entry.values.Duration("keep_firing_for").count();
    for (const auto& [name, value] : entry.values.Labels("labels")) rule.labels[name] = value;
    rule.labels["severity"] = entry.values.String("severity");
    for (const auto& [name, value] : entry.values.Labels("annotations"))
      rule.annotations[name] = value;
    c.alerts.push_back(std::move(rule));
  }

  std::map<std::string, std::string> sensor_paths;  // name -> "sensors[i]"
  for (const auto& entry : loaded.repeated.at("sensors")) {
    if (const config::OptionValue* name = entry.values.Find("name")) {
      auto [it, inserted] = sensor_paths.emplace(std::get<std::string>(*name), entry.path);
      if (!inserted) {
        loaded.AddError(entry, "name", "a sensor of this name exists already (" + it->second + ")");
        continue;
      }
    }
    if (entry.has_errors) continue;
    sensors::SensorSpec spec{entry.values.String("name"), entry.values.String("type"),
                             entry.values.Labels("labels"), entry.values};
    if (auto sensor = sensors::CreateSensor(spec); !sensor.ok()) {
      loaded.AddProblems(entry, sensor.status());
      continue;
    }
    c.sensors.push_back(std::move(spec));
  }
  int position = 0;
  for (const auto& entry : loaded.repeated.at("pipeline")) {
    ++position;
    if (entry.has_errors) continue;
    VigilConfig::PipelineStage stage{entry.values.String("stage"), entry.values.String("name"),
                                     entry.values, entry.where};
    if (stage.name.empty()) stage.name = stage.stage + "_" + std::to_string(position);
    if (auto built = BuildPipelineStage(stage); !built.ok()) {
      loaded.AddProblems(entry, built.status());
      continue;
    }
    c.pipeline.push_back(std::move(stage));
  }
  const auto& rule_section = loaded.sections.at("rules");
  c.rules.files = rule_section.Strings("files");
  c.rules.base_dir = base_dir;
  c.rules.evaluation_interval = rule_section.Duration("evaluation_interval");
  c.rules.outage_tolerance = rule_section.Duration("outage_tolerance");
  c.rules.for_grace_period = rule_section.Duration("for_grace_period");
  // The rule files are part of the configuration: their errors are reported with its own.
  vigil::rules::LoadedRules rules = LoadRuleFilesOf(c);
  Status status = loaded.ToStatus();
  if (!rules.ok()) {
    std::string message = status.ok() ? "" : status.message() + "\n";
    for (const auto& error : rules.errors) message += error + "\n";
    message.pop_back();
    return InvalidArgumentError(std::move(message));
  }
  VIGIL_RETURN_IF_ERROR(status);
  c.rule_groups = std::move(rules.groups);
  return c;
}

}  // namespace

const config::Schema& VigilSchema() {
  static const config::Schema schema = BuildSchema();
  return schema;
}

Result<VigilConfig> LoadVigilConfig(const std::string& path) {
  VIGIL_ASSIGN_OR_RETURN(config::LoadedConfig loaded, config::LoadConfigFile(path, VigilSchema()));
  return FromLoaded(loaded, std::filesystem::path(path).parent_path().string());
}

Result<VigilConfig> ParseVigilConfig(std::string_view text, const std::string& source_name) {
  VIGIL_ASSIGN_OR_RETURN(config::LoadedConfig loaded,
                         config::ParseConfig(text, source_name, VigilSchema()));
  return FromLoaded(loaded, "");
}

vigil::rules::LoadedRules LoadRuleFilesOf(const VigilConfig& config) {
  return vigil::rules::LoadRuleFiles(config.rules.files, config.rules.base_dir);
}

Status ValidateVigilConfig(const VigilConfig& c) {
  VIGIL_RETURN_IF_ERROR(ParseLogLevel(c.log_level).status().Annotate("--log-level"));
  VIGIL_RETURN_IF_ERROR(CheckListenAddress(c.web.listen).Annotate("--listen"));
  if (!c.web.metrics_listen.empty()) {
    VIGIL_RETURN_IF_ERROR(CheckListenAddress(c.web.metrics_listen).Annotate("--metrics-listen"));
  }
  VIGIL_RETURN_IF_ERROR(CheckUrlScheme(c.broker.url, {"amqp", "amqps"}).Annotate("--broker"));
  VIGIL_RETURN_IF_ERROR(
      CheckUrlScheme(c.storage.url, {"postgres", "postgresql"}).Annotate("--store"));
  VIGIL_RETURN_IF_ERROR(CheckAgentId(c.agent.id).Annotate("--agent-id"));
  if (c.storage.data_dir.empty()) return InvalidArgumentError("--data-dir: must not be empty");
  std::set<std::string> names;
  for (const auto& spec : c.sensors) {
    if (!names.insert(spec.name).second) {
      return InvalidArgumentError("sensor " + spec.name + ": a sensor of this name exists already");
    }
    VIGIL_RETURN_IF_ERROR(sensors::CreateSensor(spec).status().Annotate("sensor " + spec.name));
  }
  return OkStatus();
}

Result<std::unique_ptr<pipeline::Stage>> BuildPipelineStage(
    const VigilConfig::PipelineStage& spec) {
  const config::OptionValues& o = spec.options;
  auto about = [](std::string_view key, const Status& status) {
    return InvalidArgumentError(std::string(key) + ": " + status.message());
  };
  auto selectors = [&](const std::string& key) -> Result<std::vector<pipeline::Selector>> {
    std::vector<pipeline::Selector> out;
    for (const auto& text : o.Strings(key)) {
      auto matchers = model::ParseSelector(text);
      if (!matchers.ok()) return about(key, matchers.status());
      out.push_back(std::move(matchers).value());
    }
    return out;
  };
  if (spec.stage == "filter") {
    VIGIL_ASSIGN_OR_RETURN(auto keep, selectors("keep"));
    VIGIL_ASSIGN_OR_RETURN(auto drop, selectors("drop"));
    return std::unique_ptr<pipeline::Stage>(
        std::make_unique<pipeline::FilterStage>(spec.name, std::move(keep), std::move(drop)));
  }
  if (spec.stage == "relabel") {
    pipeline::RelabelRule rule;
    auto action = pipeline::ParseRelabelAction(o.String("action"));
    if (!action.ok()) return about("action", action.status());
    rule.action = *action;
    rule.source_labels = o.Strings("source_labels");
    rule.separator = o.String("separator");
    rule.target_label = o.String("target_label");
    rule.regex = o.String("regex");
    rule.modulus = static_cast<uint64_t>(o.Int("modulus"));
    rule.replacement = o.String("replacement");
    VIGIL_ASSIGN_OR_RETURN(auto stage, pipeline::RelabelStage::Create(spec.name, std::move(rule)));
    return std::unique_ptr<pipeline::Stage>(std::move(stage));
  }
  if (spec.stage == "downsample") {
    pipeline::DownsampleStage::Options options;
    options.window_ms = o.Duration("window").count();
    options.functions.clear();
    for (const auto& word : o.Strings("functions")) {
      auto fn = pipeline::ParseDownsampleFunction(word);
      if (!fn.ok()) return about("functions", fn.status());
      options.functions.push_back(*fn);
    }
    options.replace = o.String("mode") == "replace";
    if (!o.String("selector").empty()) {
      auto selector = model::ParseSelector(o.String("selector"));
      if (!selector.ok()) return about("selector", selector.status());
      options.selector = std::move(selector).value();
    }
    VIGIL_ASSIGN_OR_RETURN(auto stage,
                           pipeline::DownsampleStage::Create(spec.name, std::move(options)));
    return std::unique_ptr<pipeline::Stage>(std::move(stage));
  }
  auto selector = model::ParseSelector(o.String("selector"));
  if (!selector.ok()) return about("selector", selector.status());
  return std::unique_ptr<pipeline::Stage>(std::make_unique<pipeline::MatchStage>(
      spec.name, std::move(selector).value(), o.Labels("add_labels")));
}

Result<std::vector<std::unique_ptr<pipeline::Stage>>> BuildPipelineStages(
    const VigilConfig& config) {
  std::vector<std::unique_ptr<pipeline::Stage>> stages;
  for (const auto& spec : config.pipeline) {
    auto stage = BuildPipelineStage(spec);
    if (!stage.ok()) {
      return InvalidArgumentError(spec.where + ": pipeline." + spec.name + ": " +
                                  stage.status().message());
    }
    stages.push_back(std::move(stage).value());
  }
  return stages;
}

store::postgres::PostgresOptions PostgresOptionsFrom(const VigilConfig::Storage& storage) {
  store::postgres::PostgresOptions options;
  options.url = storage.url;
  options.pool_size = static_cast<size_t>(storage.pool_size);
  options.statement_timeout = storage.statement_timeout;
  options.partition_days = static_cast<int>(storage.partition_days);
  options.partitions_ahead = static_cast<int>(storage.partitions_ahead);
  options.retention_ms = storage.retention.count();
  options.max_points = storage.max_points_per_query;
  return options;
}

tsdb::TsdbOptions TsdbOptionsFrom(const VigilConfig::Storage& storage) {
  tsdb::TsdbOptions options;
  options.dir = storage.data_dir + "/tsdb";
  options.retention_ms = storage.retention.count();
  options.retention_bytes = storage.retention_size_mb << 20;
  options.wal.fsync =
      storage.wal_fsync == "interval" ? wal::FsyncPolicy::kInterval : wal::FsyncPolicy::kAlways;
  options.wal.fsync_interval = storage.wal_fsync_interval;
  options.out_of_order_window_ms = storage.out_of_order_window.count();
  options.max_points = storage.max_points_per_query;
  return options;
}

}  // namespace vigil::roles
