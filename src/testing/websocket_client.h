// A small WebSocket client for tests (RFC 6455 over plain TCP to 127.0.0.1): the opening
// handshake, masked text frames out, text frames in. Enough to subscribe to a vigil live
// stream (GET /ws) and read what it sends; pings are answered, other control frames end
// the read.
//
// Thread safety: one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace vigil::testing {

class WebSocketClient {
 public:
  // Connects to 127.0.0.1:port and upgrades `path`; Unavailable unless the server says 101.
  static Result<std::unique_ptr<WebSocketClient>> Connect(uint16_t port,
                                                          const std::string& path = "/ws");
  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  Status SendText(const std::string& text);
  // The next text message; DeadlineExceeded when none arrives within `timeout_ms`,
  // Unavailable when the server closed the connection.
  Result<std::string> ReceiveText(int timeout_ms);

 private:
  explicit WebSocketClient(int fd) : fd_(fd) {}
  Status SendFrame(int opcode, const std::string& payload);
  // Reads until `buffer_` holds at least `n` bytes.
  Status Fill(size_t n, int timeout_ms);

  int fd_;
  std::string buffer_;  // received, not yet parsed
};

}  // namespace vigil::testing
