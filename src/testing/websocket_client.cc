#include "testing/websocket_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>

#include "testing/http_client.h"

namespace vigil::testing {

Result<std::unique_ptr<WebSocketClient>> WebSocketClient::Connect(uint16_t port,
                                                                  const std::string& path) {
  VIGIL_ASSIGN_OR_RETURN(int fd, ConnectLoopback(port));
  std::unique_ptr<WebSocketClient> client(new WebSocketClient(fd));
  const std::string request = "GET " + path +
                              " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                              "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size()))
    return UnavailableError("send the handshake");
  size_t end;
  while ((end = client->buffer_.find("\r\n\r\n")) == std::string::npos) {
    VIGIL_RETURN_IF_ERROR(client->Fill(client->buffer_.size() + 1, 5000));
  }
  const std::string head = client->buffer_.substr(0, end);
  if (head.rfind("HTTP/1.1 101", 0) != 0)
    return UnavailableError("no upgrade: " + head.substr(0, head.find("\r\n")));
  client->buffer_.erase(0, end + 4);
  return client;
}

WebSocketClient::~WebSocketClient() { ::close(fd_); }

Status WebSocketClient::SendFrame(int opcode, const std::string& payload) {
  std::string frame;
  frame.push_back(static_cast<char>(0x80 | opcode));
  const size_t n = payload.size();
  if (n < 126) {
    frame.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>(n >> 8));
    frame.push_back(static_cast<char>(n & 0xff));
  } else {
    frame.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8) frame.push_back(static_cast<char>(n >> shift));
  }
  // A client masks every frame (RFC 6455 5.3).
  std::random_device random;
  char mask[4];
  for (char& m : mask) m = static_cast<char>(random());
  frame.append(mask, 4);
  for (size_t i = 0; i < n; ++i) frame.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  if (::send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(frame.size()))
    return UnavailableError("send a frame");
  return OkStatus();
}

Status WebSocketClient::SendText(const std::string& text) { return SendFrame(0x1, text); }

Status WebSocketClient::Fill(size_t n, int timeout_ms) {
  char chunk[65536];
  while (buffer_.size() < n) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0)
      return DeadlineExceededError("nothing within " + std::to_string(timeout_ms) + " ms");
    ssize_t got = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (got <= 0) return UnavailableError("the server closed the connection");
    buffer_.append(chunk, static_cast<size_t>(got));
  }
  return OkStatus();
}

Result<std::string> WebSocketClient::ReceiveText(int timeout_ms) {
  std::string message;
  while (true) {
    VIGIL_RETURN_IF_ERROR(Fill(2, timeout_ms));
    const auto byte = [&](size_t i) { return static_cast<unsigned char>(buffer_[i]); };
    const bool fin = (byte(0) & 0x80) != 0;
    const int opcode = byte(0) & 0x0f;
    uint64_t length = byte(1) & 0x7f;
    size_t header = 2;
    if (length == 126) {
      VIGIL_RETURN_IF_ERROR(Fill(4, timeout_ms));
      length = (uint64_t{byte(2)} << 8) | byte(3);
      header = 4;
    } else if (length == 127) {
      VIGIL_RETURN_IF_ERROR(Fill(10, timeout_ms));
      length = 0;
      for (size_t i = 2; i < 10; ++i) length = (length << 8) | byte(i);
      header = 10;
    }
    VIGIL_RETURN_IF_ERROR(Fill(header + length, timeout_ms));
    std::string payload = buffer_.substr(header, length);
    buffer_.erase(0, header + length);
    if (opcode == 0x9) {  // ping
      VIGIL_RETURN_IF_ERROR(SendFrame(0xA, payload));
      continue;
    }
    if (opcode == 0x8) return UnavailableError("closed by the server");
    if (opcode != 0x1 && opcode != 0x0) continue;
    message += payload;
    if (fin) return message;
  }
}

}  // namespace vigil::testing
