// HttpStub: a small HTTP/1.1 server on 127.0.0.1 for tests of clients (the http probe,
// the scrape sensor). Each request is answered by the test's handler — status, headers,
// body, and optionally a delay before answering or a connection closed without an answer —
// then the connection is closed. Stops (joining every connection) when destroyed.
//
// Thread safety: the handler runs on the stub's threads, one per connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"

namespace vigil::testing {

struct StubRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
};

struct StubResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int delay_ms = 0;      // wait before answering
  bool hang_up = false;  // close the connection without answering
};

class HttpStub {
 public:
  using Handler = std::function<StubResponse(const StubRequest&)>;
  static Result<std::unique_ptr<HttpStub>> Start(Handler handler);
  ~HttpStub();

  uint16_t port() const { return port_; }
  std::string Url(const std::string& target = "/") const;
  int requests() const { return requests_.load(); }

 private:
  HttpStub(int fd, uint16_t port, Handler handler);
  void Accept();
  void Serve(int fd);

  int listen_fd_;
  uint16_t port_;
  Handler handler_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread acceptor_;
  Mutex mu_;
  std::vector<std::thread> connections_ VIGIL_GUARDED_BY(mu_);
};

}  // namespace vigil::testing
