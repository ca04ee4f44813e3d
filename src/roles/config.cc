#include "roles/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "bus/topology.h"
#include "core/config_map.h"
#include "core/logging.h"
#include "core/names.h"
#include "core/url.h"
#include "pipeline/stage_types.h"
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
  if (id == bus::kPushSource) {
    return InvalidArgumentError("\"" + id +
                                "\" is reserved for batches written to the web servers");
  }
  for (char c : id) {
    if (!IsAgentIdChar(c)) {
      return InvalidArgumentError("may hold only letters, digits, '-', '_' and '.'");
    }
  }
  return OkStatus();
}

// One plain section of vigil.toml and how its values go into a VigilConfig.
struct BoundSection {
  config::SectionSpec spec;
  std::function<void(const config::OptionValues&, VigilConfig&)> read;
};

template <typename T>
BoundSection Bound(config::SectionMap<T> map, T VigilConfig::*field) {
  auto shared = std::make_shared<config::SectionMap<T>>(std::move(map));
  return {shared->spec(), [shared, field](const config::OptionValues& values, VigilConfig& c) {
            shared->Read(values, c.*field);
          }};
}

config::SectionMap<VigilConfig::Log> LogSection() {
  config::SectionMap<VigilConfig::Log> s("log", "Logging to standard error.");
  s.Option("level", &VigilConfig::Log::level, "Least severe level logged.")
      .Choices({"trace", "debug", "info", "warn", "error", "critical", "off"});
  return s;
}

config::SectionMap<VigilConfig::Agent> AgentSection() {
  using A = VigilConfig::Agent;
  config::SectionMap<A> s(
      "agent", "The sensor agent: runs the [[sensors]] and publishes their readings in batches.");
  s.Option("id", &A::id,
           "Name of this agent, unique among agents; its data queue is vigil.data.<id>. "
           "Empty: the host name.")
      .Check(StringCheck(CheckAgentId));
  s.Option("flush_interval", &A::flush_interval, "How often readings are sent as one batch.")
      .Range(0.01, 60.0);
  s.Option("max_batch_samples", &A::max_batch_samples,
           "A batch is sent early when it holds this many samples.")
      .Range(1.0, 1'000'000.0);
  s.Option("spool_max_mb", &A::spool_max_mb,
           "Batches the bus refuses wait in <data_dir>/spool/<agent id>, up to this size (the "
           "oldest are dropped beyond it); 0: no spool, such batches are lost.")
      .Range(0.0, 1'000'000.0);
  s.Option("drain_rate", &A::drain_rate,
           "Spooled batches replayed per second once the bus takes them again; above the "
           "normal rate (1 batch per flush_interval) so the spool empties.")
      .Range(0.1, 1e6);
  s.Option("replay", &A::replay,
           "ordered: new batches wait until the spool is empty; backfill: they go at once, the "
           "spool drains beside them.")
      .Choices({"ordered", "backfill"});
  s.Option("breaker_failures", &A::breaker_failures,
           "Failed publishes in a row that trip the circuit breaker (then batches go straight "
           "to the spool).")
      .Range(1.0, 1000.0);
  s.Option("breaker_cooldown", &A::breaker_cooldown,
           "How long the open breaker waits before one trial publish; doubles after each "
           "failed trial, up to 10 s.")
      .Range(0.01, 10.0);
  return s;
}

config::SectionMap<VigilConfig::Web> WebSection() {
  using W = VigilConfig::Web;
  config::SectionMap<W> s("web", "The HTTP server (dashboard, query API, /metrics).");
  s.Option("listen", &W::listen, "Address to listen on, host:port.")
      .Check(StringCheck([](const std::string& v) { return CheckListenAddress(v); }));
  s.Option("metrics_listen", &W::metrics_listen,
           "Where vigil sensor and vigil coordinator serve /metrics, /healthz and /readyz, "
           "host:port; empty: not served.")
      .Check(StringCheck(
          [](const std::string& v) { return v.empty() ? OkStatus() : CheckListenAddress(v); }));
  s.Option("write_token", &W::write_token,
           "When set, the write endpoints need Authorization: Bearer <token>; "
           "VIGIL_WRITE_TOKEN overrides it. Never logged.");
  s.Option("allowed_origins", &W::allowed_origins,
           "Web origins (scheme://host:port) besides the server's own whose pages may open /ws "
           "and write; \"*\" allows any. Requests without an Origin header (agents, curl) are "
           "not affected.");
  s.Option("tls_cert_file", &W::tls_cert_file,
           "PEM certificate chain; with tls_key_file, serve HTTPS and wss://.");
  s.Option("tls_key_file", &W::tls_key_file, "PEM private key for tls_cert_file.");
  s.Option("dashboards_dir", &W::dashboards_dir,
           "Folder of your own dashboard definitions (*.json, docs/dashboard.md), read when the "
           "page loads; empty: <data_dir>/dashboards.");
  return s;
}

config::SectionMap<VigilConfig::Storage> StorageSection() {
  using S = VigilConfig::Storage;
  config::SectionMap<S> s("storage", "Where data is kept.");
  s.Option("data_dir", &S::data_dir, "Folder of the embedded store, the spool and the file sink.");
  s.Option("url", &S::url,
           "postgres://... to store in PostgreSQL; empty: the embedded store in data_dir.")
      .Check(StringCheck([](const std::string& v) {
        return CheckUrlScheme(v, {"postgres", "postgresql"});
      }));
  s.Option("retention", &S::retention,
           "Chunks (embedded store) or daily partitions (PostgreSQL) older than this are "
           "deleted; 0: keep forever.")
      .Range(0.0, 100.0 * 365 * 86'400);
  s.Option("retention_size_mb", &S::retention_size_mb,
           "Embedded store: oldest chunks are deleted beyond this size; 0: no limit.")
      .Range(0.0, 1e9);
  s.Option("tiers", &S::tiers,
           "Embedded store: downsampled tiers, \"<resolution>:<retention>\" finest first "
           "(\"5m:90d\"); window queries aligned to a tier read its summaries, kept past "
           "`retention`. Empty: none.")
      .Check([](const config::OptionValue& value) -> std::optional<std::string> {
        auto tiers = TierOptionsFrom(std::get<config::StringList>(value));
        if (tiers.ok()) return std::nullopt;
        return tiers.status().message();
      });
  s.Option("wal_fsync", &S::wal_fsync,
           "Embedded store: always (an acknowledged batch survives a power cut) or interval "
           "(survives a process crash; a power cut loses up to wal_fsync_interval).")
      .Choices({"always", "interval"});
  s.Option("wal_fsync_interval", &S::wal_fsync_interval,
           "Embedded store: how often the log is synced with wal_fsync = interval.")
      .Range(0.001, 60.0);
  s.Option("out_of_order_window", &S::out_of_order_window,
           "Embedded store: samples this much older than their series' newest are rejected "
           "(and counted); 0, the default: late samples of any age are kept.")
      .Range(0.0, 366.0 * 86'400);
  s.Option(
       "label_limit", [](S& v) -> size_t& { return v.label_limits.max_labels; },
       "Labels (the name included) a series may have; one with more is refused and counted. "
       "0: no limit.")
      .Range(0.0, 1e6);
  s.Option(
       "label_name_length_limit", [](S& v) -> size_t& { return v.label_limits.max_name_length; },
       "Bytes a label name may have; a longer one refuses its series. 0: no limit.")
      .Range(0.0, 1e6);
  s.Option(
       "label_value_length_limit", [](S& v) -> size_t& { return v.label_limits.max_value_length; },
       "Bytes a label value may have; a longer one refuses its series. 0: no limit.")
      .Range(0.0, 1e6);
  s.Option("max_points_per_query", &S::max_points_per_query,
           "Points one store read may return (a pushed-down function's steps, /federate, "
           "remote read) before it fails with a clear error; the query engine's raw reads are "
           "limited by [query] max_samples instead.")
      .Range(1.0, 1e10);
  s.Option("chunk_cache_mb", &S::chunk_cache_mb,
           "Embedded store: chunk rows of recently read series kept in memory, so that a "
           "query run again reads them without SQLite; 0: none.")
      .Range(0.0, 1e6);
  s.Option("pool_size", &S::pool_size,
           "PostgreSQL: connections per process (appends and queries share them).")
      .Range(1.0, 100.0);
  s.Option("statement_timeout", &S::statement_timeout,
           "PostgreSQL: a statement running longer is cancelled (the batch is retried, the "
           "query fails).")
      .Range(0.01, 3600.0);
  s.Option("partition_days", &S::partition_days,
           "PostgreSQL: days per partition of the samples table.")
      .Range(1.0, 366.0);
  s.Option("partitions_ahead", &S::partitions_ahead,
           "PostgreSQL: partitions made ahead of the current one.")
      .Range(0.0, 366.0);
  return s;
}

config::SectionMap<VigilConfig::Broker> BrokerSection() {
  using B = VigilConfig::Broker;
  config::SectionMap<B> s("broker", "RabbitMQ, for the distributed roles.");
  s.Option("url", &B::url,
           "amqp://user:password@host:5672/vhost or amqps://...; credentials are never logged.")
      .Check(StringCheck([](const std::string& v) {
        return CheckUrlScheme(v, {"amqp", "amqps"});
      }));
  s.Option("queue_type", &B::queue_type, "Type of the durable queues.")
      .Choices({"classic", "quorum"});
  s.Option("prefetch", &B::prefetch, "Unacknowledged messages a consumer may hold.")
      .Range(1.0, 65535.0);
  s.Option("confirm_timeout", &B::confirm_timeout,
           "A publish the broker has not confirmed in this long fails (the publisher spools or "
           "retries it) and the connection is made again.")
      .Range(0.1, 3600.0);
  s.Option("tls_ca_file", &B::tls_ca_file,
           "amqps://: PEM certificates that verify the broker's; empty: the system's "
           "(/etc/ssl/certs/ca-certificates.crt).");
  s.Option("tls_cert_file", &B::tls_cert_file,
           "amqps://: a PEM client certificate, for brokers that ask for one; with "
           "tls_key_file.");
  s.Option("tls_key_file", &B::tls_key_file, "amqps://: the PEM private key of tls_cert_file.");
  return s;
}

config::SectionMap<VigilConfig::Bus> BusSection() {
  using B = VigilConfig::Bus;
  config::SectionMap<B> s("bus", "Queues of the in-process bus (standalone).");
  s.Option("queue_length", &B::queue_length, "Messages (batches) a queue holds at most.")
      .Range(1.0, 1'000'000.0);
  s.Option("overflow", &B::overflow,
           "What a full queue does to a publisher: block (backpressure) or reject.")
      .Choices({"block", "reject"});
  s.Option("publish_timeout", &B::publish_timeout,
           "How long a publisher blocked by a full queue waits before giving up, and an HTTP "
           "write for its batch to be stored.")
      .Range(0.001, 3600.0);
  return s;
}

config::SectionMap<VigilConfig::Sink> SinkSection() {
  using K = VigilConfig::Sink;
  config::SectionMap<K> s(
      "sink",
      "The JSON-lines file sink: every sample the datamanager stores, one JSON object a line.");
  s.Option("enabled", &K::enabled, "Write the file.");
  s.Option("file", &K::file, "File name inside data_dir.")
      .Check(StringCheck([](const std::string& v) {
        if (v.empty() || v.find('/') != std::string::npos)
          return InvalidArgumentError("must be a plain file name");
        return OkStatus();
      }));
  s.Option("max_size_mb", &K::max_size_mb, "The file is rotated at this size (MiB).")
      .Range(1.0, 1'048'576.0);
  s.Option("keep", &K::keep, "Rotated files kept (file.1 ... file.N).").Range(0.0, 1000.0);
  s.Option("sync", &K::sync,
           "fsync the file before acknowledging each batch (slower, survives power loss).");
  s.Option("compress", &K::compress, "gzip rotated files (file.1.gz ...).");
  return s;
}

config::SectionMap<VigilConfig::Coordinator> CoordinatorSection() {
  config::SectionMap<VigilConfig::Coordinator> s("coordinator",
                                                 "The coordinator's pipeline shards.");
  s.Option("workers", &VigilConfig::Coordinator::workers,
           "Shards of the pipeline; each agent's batches go to one, and agents on different "
           "shards are processed in parallel.")
      .Range(1.0, 64.0);
  return s;
}

config::SectionMap<VigilConfig::Rules> RulesSection() {
  using R = VigilConfig::Rules;
  config::SectionMap<R> s("rules",
                          "Prometheus rule files: alerting and recording rules evaluated over "
                          "the stored data (docs/alerts.md).");
  s.Option("files", &R::files,
           "Rule files, as Prometheus's rule_files: paths or globs, relative to this file's "
           "folder (`[\"rules/*.yml\"]`).");
  s.Option("evaluation_interval", &R::evaluation_interval,
           "How often a group is evaluated when it names no `interval`.")
      .Range(0.1, 86400.0);
  s.Option("outage_tolerance", &R::outage_tolerance,
           "How long vigil may be down for a pending or firing alert's `for` state to be "
           "restored (Prometheus's --rules.alert.for-outage-tolerance).")
      .Range(0.0, 31.0 * 86400.0);
  s.Option("for_grace_period", &R::for_grace_period,
           "A restored alert whose `for` is at least this long waits at least this long before "
           "it fires (Prometheus's --rules.alert.for-grace-period).")
      .Range(0.0, 86400.0);
  return s;
}

config::SectionMap<VigilConfig::Alerting> AlertingSection() {
  using A = VigilConfig::Alerting;
  auto urls = [](const OptionValue& value) -> std::optional<std::string> {
    for (const auto& url : std::get<config::StringList>(value)) {
      if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
        return "\"" + url + "\" is not an http:// or https:// URL";
    }
    return std::nullopt;
  };
  config::SectionMap<A> s("alerting",
                          "The ruler's built-in group ([[alerts]] and VigilAgentOffline), the "
                          "coordinators' heartbeat series, and where alerts are sent "
                          "(docs/alerts.md).");
  s.Option("evaluation_interval", &A::evaluation_interval,
           "How often the coordinators publish their heartbeat series and the ruler evaluates "
           "its built-in group: the [[alerts]] rules and VigilAgentOffline.")
      .Range(0.1, 3600.0);
  s.Option("agent_offline", &A::agent_offline,
           "The ruler's built-in rule VigilAgentOffline: no coordinator heard of an agent for "
           "offline_intervals times its shortest sensor interval.");
  s.Option("offline_intervals", &A::offline_intervals,
           "Intervals without a batch before an agent is offline.")
      .Range(1.0, 1000.0);
  s.Option("webhooks", &A::webhooks,
           "URLs that receive firing and resolved alerts in Alertmanager's webhook format.")
      .Check(urls);
  s.Option("alertmanagers", &A::alertmanagers,
           "Alertmanagers (http://host:9093) the rule files' alerts are sent to, as Prometheus "
           "sends them: POST /api/v2/alerts, again every minute.")
      .Check(urls);
  s.Option("webhook_timeout", &A::webhook_timeout, "Timeout of one webhook request.")
      .Range(0.1, 300.0);
  s.Option("webhook_max_attempts", &A::webhook_max_attempts,
           "Attempts per payload, with exponential backoff between them.")
      .Range(1.0, 100.0);
  s.Option("external_url", &A::external_url,
           "externalURL and generatorURL in webhook payloads; empty: http://<web listen>.");
  return s;
}

// The plain sections in the order docs/configuration.md has them.
const std::vector<BoundSection>& PlainSections() {
  static const std::vector<BoundSection> sections = {
      Bound(LogSection(), &VigilConfig::log),
      Bound(AgentSection(), &VigilConfig::agent),
      Bound(WebSection(), &VigilConfig::web),
      Bound(query::EngineOptionsSection(), &VigilConfig::query),
      Bound(StorageSection(), &VigilConfig::storage),
      Bound(BrokerSection(), &VigilConfig::broker),
      Bound(BusSection(), &VigilConfig::bus),
      Bound(SinkSection(), &VigilConfig::sink),
      Bound(CoordinatorSection(), &VigilConfig::coordinator),
      Bound(RulesSection(), &VigilConfig::rules),
      Bound(AlertingSection(), &VigilConfig::alerting),
  };
  return sections;
}

std::vector<std::string> StageNames() {
  std::vector<std::string> names;
  for (const auto& type : pipeline::StageTypes()) names.push_back(type.stage);
  return names;
}

config::Schema BuildSchema() {
  config::Schema schema;
  for (const auto& section : PlainSections()) schema.sections.push_back(section.spec);

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
      {OptionSpec{"stage", OptionType::kString, "filter, relabel, match or downsample.",
                  std::nullopt, std::nullopt, std::nullopt, StageNames()},
       OptionSpec{"name", OptionType::kString,
                  "Name in vigil_pipeline_samples_total{stage}; empty: the stage and its position "
                  "(relabel_2).",
                  std::string()}},
      /*repeated=*/true};
  pipeline.extra_options =
      [](const config::OptionValues& common) -> Result<std::vector<OptionSpec>> {
    // `stage` is one of the choices, so it names a type.
    return pipeline::FindStageType(common.String("stage"))->options;
  };
  schema.sections.push_back(std::move(pipeline));

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
  for (const auto& section : PlainSections()) {
    section.read(loaded.sections.at(section.spec.name), c);
  }
  if (c.web.tls_cert_file.empty() != c.web.tls_key_file.empty()) {
    bool has_cert = !c.web.tls_cert_file.empty();
    loaded.AddError("web", has_cert ? "tls_cert_file" : "tls_key_file",
                    has_cert ? "needs tls_key_file as well" : "needs tls_cert_file as well");
  }
  if (const char* token = std::getenv("VIGIL_WRITE_TOKEN"); token && *token)
    c.web.write_token = token;
  if (c.broker.tls_cert_file.empty() != c.broker.tls_key_file.empty()) {
    bool has_cert = !c.broker.tls_cert_file.empty();
    loaded.AddError("broker", has_cert ? "tls_cert_file" : "tls_key_file",
                    has_cert ? "needs tls_key_file as well" : "needs tls_cert_file as well");
  }
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
  c.rules.base_dir = base_dir;
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
  VIGIL_RETURN_IF_ERROR(ParseLogLevel(c.log.level).status().Annotate("--log-level"));
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
  const pipeline::StageDescriptor* type = pipeline::FindStageType(spec.stage);
  if (type == nullptr) return InvalidArgumentError("unknown stage \"" + spec.stage + "\"");
  return type->create(spec.name, spec.options);
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

Result<std::vector<tsdb::TierOptions>> TierOptionsFrom(const std::vector<std::string>& tiers) {
  std::vector<tsdb::TierOptions> out;
  for (const std::string& text : tiers) {
    const size_t colon = text.find(':');
    auto resolution = config::ParseDuration(std::string_view(text).substr(0, colon));
    auto retention = colon == std::string::npos
                         ? Result<std::chrono::milliseconds>(std::chrono::milliseconds(0))
                         : config::ParseDuration(std::string_view(text).substr(colon + 1));
    if (!resolution.ok() || !retention.ok()) {
      return InvalidArgumentError("tier \"" + text +
                                  "\": want <resolution>:<retention>, such as \"5m:90d\"");
    }
    out.push_back({.resolution_ms = resolution->count(), .retention_ms = retention->count()});
  }
  VIGIL_RETURN_IF_ERROR(tsdb::CheckTiers(out));
  return out;
}

tsdb::TsdbOptions TsdbOptionsFrom(const VigilConfig::Storage& storage) {
  tsdb::TsdbOptions options;
  // Checked when the configuration was loaded (the option's check).
  if (auto tiers = TierOptionsFrom(storage.tiers); tiers.ok()) options.tiers = *std::move(tiers);
  options.dir = storage.data_dir + "/tsdb";
  options.retention_ms = storage.retention.count();
  options.retention_bytes = storage.retention_size_mb << 20;
  options.wal.fsync =
      storage.wal_fsync == "interval" ? wal::FsyncPolicy::kInterval : wal::FsyncPolicy::kAlways;
  options.wal.fsync_interval = storage.wal_fsync_interval;
  options.out_of_order_window_ms = storage.out_of_order_window.count();
  options.max_points = storage.max_points_per_query;
  options.chunk_cache_bytes = static_cast<size_t>(storage.chunk_cache_mb) << 20;
  return options;
}

}  // namespace vigil::roles
