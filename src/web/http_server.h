// The HTTP and WebSocket server (Boost.Beast on Asio; the only code that includes them),
// optionally over TLS (OpenSSL).
// Keep-alive, limits on header and body size (413), read and idle timeouts, and a
// graceful Stop. Requests are handed to the handler on a worker pool, not on the I/O
// threads, because handlers read stores that block (SQLite, PostgreSQL); the ops paths
// (/healthz, /readyz, /metrics) have a worker of their own; only queries known to be
// quick are answered on the I/O thread (Options::answer_on_io_thread). `GET /ws`
// upgrades to a WebSocket fed by the LiveHub, with pings that detect dead peers.
//
// Thread safety: Start and Stop from one thread; the handler runs on worker threads (and
// on I/O threads for the queries answer_on_io_thread approves) and must be thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "web/http.h"
#include "web/live_hub.h"

namespace vigil::web {

class HttpServer {
 public:
  struct Options {
    std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free one
    size_t max_header_bytes = 16 * 1024;
    size_t max_body_bytes = 16 * 1024 * 1024;
    std::chrono::milliseconds read_timeout{30'000};   // a request must arrive within this
    std::chrono::milliseconds idle_timeout{120'000};  // keep-alive connections
    // PEM files; both set: HTTPS (TLS 1.2+) instead of HTTP, WebSockets as wss://.
    std::string tls_cert_file;
    std::string tls_key_file;
    int io_threads = 1;
    int worker_threads = 4;
    // Served by a thread of their own, so that health probes and scrapes of /metrics answer
    // at once while queries fill every worker.
    std::vector<std::string> ops_paths = {"/healthz", "/readyz", "/metrics"};
    // Queries: a pool of their own, so that however many arrive, writes, the dashboard and
    // the rest keep their workers. A request that waited longer than query_queue_timeout
    // for a query thread is answered 503 "timeout" without running.
    std::vector<std::string> query_paths;
    int query_threads = 4;
    std::chrono::milliseconds query_queue_timeout{120'000};
    // Queries it approves are answered on the I/O thread that read them while no query
    // waits for or runs on a query thread: that spares handing the request to a query
    // thread and the answer back, two thread wake-ups and a fifth of a small query's
    // time. The I/O thread serves no other connection meanwhile, so it must approve only
    // queries that take well under a millisecond (Api::AnsweredQuickly). Empty: none.
    std::function<bool(const HttpRequest&)> answer_on_io_thread;
    // Origins besides the server's own whose pages may open /ws (web/http.h OriginAllowed).
    std::vector<std::string> allowed_origins;
    size_t max_connections = 10'000;
  };
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Binds and starts serving; Unavailable when the address cannot be bound. `hub` may be
  // null (no /ws); it must outlive the server.
  static Result<std::unique_ptr<HttpServer>> Start(Options options, Handler handler, LiveHub* hub);
  ~HttpServer();

  // Stops accepting, lets requests in progress finish (up to `grace`), closes the rest.
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  uint16_t port() const;

  struct Impl;  // defined in http_server.cc, with the Beast sessions that use it

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::web
