#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "bus/amqp/amqp_bus.h"
#include "cmd/commands.h"
#include "core/env.h"
#include "core/mutex.h"
#include "core/url.h"
#include "roles/distributed.h"
#include "web/http_server.h"
#include "web/ops.h"

namespace vigil::cmd {

namespace {

// While a role waits for its broker or database at start: /healthz answers (the process is
// alive), /readyz says why it is not ready, where the role itself will serve them.
class StartupProbe {
 public:
  StartupProbe(std::string role, std::string listen)
      : role_(std::move(role)), listen_(std::move(listen)) {}
  ~StartupProbe() { Close(); }

  void NotReady(const std::string& why) {
    {
      MutexLock lock(mu_);
      why_ = why;
    }
    if (server_ || listen_.empty()) return;
    web::HttpServer::Options options;
    options.listen = listen_;
    options.worker_threads = 1;
    auto handler = [this](const web::HttpRequest& request) {
      web::ReadinessCheck ready = [this] {
        MutexLock lock(mu_);
        return "starting: " + why_;
      };
      if (auto response = web::HandleOps(request, metrics::Registry::Default(), ready))
        return *std::move(response);
      return web::JsonError(503, role_ + " is starting: " + ready());
    };
    auto server = web::HttpServer::Start(options, handler, nullptr);
    if (!server.ok()) return;
    server_ = std::move(*server);
    spdlog::info("{}: /healthz and /readyz on {}:{} (503 until started)", role_,
                 listen_.substr(0, listen_.rfind(':')), server_->port());
  }
  // Frees the address for the role.
  void Close() {
    if (server_) server_->Stop(std::chrono::milliseconds(100));
    server_.reset();
  }

 private:
  std::string role_;
  std::string listen_;
  Mutex mu_;
  std::string why_;
  std::unique_ptr<web::HttpServer> server_;
};

}  // namespace

int RunDistributedRole(const std::string& role, const roles::VigilConfig& config, bool with_rules) {
  if (config.broker.url.empty()) {
    spdlog::error(
        "{}: no broker: give --broker amqp://user:password@host:5672/, [broker] url, or "
        "VIGIL_BROKER_URL",
        role);
    return kExitConfigError;
  }
  sigset_t signals = BlockShutdownSignals();
  const bool rules = role == "ruler" || with_rules;
  if (rules) {
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  }
  bus::AmqpBus::Options options;
  options.url = config.broker.url;
  options.publish_timeout = config.bus.publish_timeout;
  options.confirm_timeout = config.broker.confirm_timeout;
  options.tls_ca_file = config.broker.tls_ca_file;
  options.tls_cert_file = config.broker.tls_cert_file;
  options.tls_key_file = config.broker.tls_key_file;
  // An agent starts without its broker and spools; the others wait for what they need.
  options.connect_in_background = role == "sensor";
  StartupProbe probe(
      role, role == "web" || role == "datamanager" ? config.web.listen : config.web.metrics_listen);
  std::unique_ptr<bus::AmqpBus> bus;
  std::unique_ptr<roles::DistributedRole> process;
  auto backoff = std::chrono::milliseconds(500);
  std::string last_failure;
  while (true) {
    Status status;
    if (!bus) {
      auto connected = bus::AmqpBus::Connect(options);
      if (connected.ok()) {
        bus = std::move(*connected);
        spdlog::info("{}: {} {}", role, bus->connected() ? "connected to" : "connecting to",
                     RedactUrl(config.broker.url));
      } else {
        status = connected.status().Annotate("broker " + RedactUrl(config.broker.url));
      }
    }
    if (status.ok()) {
      auto created = roles::DistributedRole::Create(role, *bus, config, SystemClock::Get(),
                                                    Env::Default(), with_rules);
      if (created.ok()) {
        process = std::move(*created);
        probe.Close();
        status = process->Start();
        if (status.ok()) break;
        process.reset();
      } else {
        status = created.status();
      }
    }
    if (!IsTransient(status)) {
      spdlog::error("{}: {}", role, status.ToString());
      return status.code() == StatusCode::kInvalidArgument ? kExitConfigError : kExitFailure;
    }
    // The broker or the database is not there yet: wait, say why, try again.
    if (status.message() != last_failure) {
      spdlog::warn("{}: cannot start yet: {}; trying again with backoff (/readyz says 503)", role,
                   status.ToString());
      last_failure = status.message();
    }
    probe.NotReady(status.message());
    const timespec wait{static_cast<time_t>(backoff.count() / 1000),
                        static_cast<long>(backoff.count() % 1000) * 1'000'000};
    if (int signal_number = sigtimedwait(&signals, nullptr, &wait); signal_number > 0) {
      spdlog::info("{}: {} received while starting; stopped", role, strsignal(signal_number));
      return kExitOk;
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10'000));
  }
  spdlog::info("{}: running; {}SIGINT or SIGTERM stops", role,
               rules ? "SIGHUP reloads the rule files, " : "");
  int signal_number = WaitForShutdownSignal(signals);
  while (signal_number == SIGHUP) {
    (void)process->ReloadRules();  // logs what failed; the old rules stay
    signal_number = WaitForShutdownSignal(signals);
  }
  spdlog::info("{}: {} received, shutting down", role, strsignal(signal_number));
  Status stopped = process->Stop();
  return stopped.ok() ? kExitOk : kExitFailure;
}

namespace {

int RunRole(const std::string& role, const CommonFlags& flags, bool with_rules) {
  roles::VigilConfig config;
  if (int code = LoadConfig(flags, config); code != kExitOk) return code;
  // Before waiting for the broker: a config that cannot work fails at once.
  if (Status status = roles::CheckRoleConfig(role, config); !status.ok()) {
    spdlog::error("{}", status.message());
    return kExitConfigError;
  }
  return RunDistributedRole(role, config, with_rules);
}

// `rules_flag` adds --rules (the datamanager's: run a ruler as well).
void AddRole(CLI::App& app, int& exit_code, const std::string& role, const std::string& help,
             bool listen, bool data_dir, bool store, bool rules_flag = false) {
  auto flags = std::make_shared<CommonFlags>();
  auto with_rules = std::make_shared<bool>(false);
  CLI::App* command = app.add_subcommand(role, help);
  AddCommonFlags(*command, *flags, listen, data_dir, /*broker=*/true, store);
  if (!listen) AddMetricsListenFlag(*command, *flags);
  if (rules_flag) {
    command->add_flag("--rules", *with_rules,
                      "Also evaluate the [rules] files over this datamanager's store, as a "
                      "`vigil ruler` does (one evaluates across the cluster; SIGHUP and POST "
                      "/-/reload reload them).");
  }
  command->callback(
      [role, flags, with_rules, &exit_code] { exit_code = RunRole(role, *flags, *with_rules); });
}

}  // namespace

void AddDistributedCommands(CLI::App& app, int& exit_code) {
  AddRole(app, exit_code, "coordinator",
          "Run a coordinator: discover agents, consume their data queues, run the pipeline and "
          "the alert rules, publish to vigil.events.",
          /*listen=*/false, /*data_dir=*/false, /*store=*/false);
  AddRole(app, exit_code, "datamanager",
          "Run a datamanager: consume vigil.store into the store (the embedded one in "
          "--data-dir, or PostgreSQL with --store) and the JSON-lines sink, and serve the "
          "dashboard and the query API on --listen. With --rules, also evaluate the [rules] "
          "files.",
          /*listen=*/true, /*data_dir=*/true, /*store=*/true, /*rules_flag=*/true);
  AddRole(app, exit_code, "web",
          "Run a web server over PostgreSQL (--store): dashboard, WebSocket live stream, query "
          "API on --listen.",
          /*listen=*/true, /*data_dir=*/false, /*store=*/true);
  AddRole(app, exit_code, "ruler",
          "Run a ruler over PostgreSQL (--store): evaluate the [rules] files. Start two or more: "
          "one evaluates (it holds the rulers' lease on the broker), the others take over "
          "within a moment when it goes. SIGHUP reloads the rule files.",
          /*listen=*/false, /*data_dir=*/false, /*store=*/true);
}

}  // namespace vigil::cmd
