#include "testing/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstring>

#include "core/check.h"

namespace vigil::testing {
namespace {

bool ParseResponse(const std::string& raw, RawResponse* out, bool complete_on_close) {
  const size_t header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos) return false;
  size_t line_end = raw.find("\r\n");
  const std::string status_line = raw.substr(0, line_end);
  if (status_line.size() < 12) return false;
  out->status = std::atoi(status_line.substr(9, 3).c_str());
  out->headers.clear();
  size_t pos = line_end + 2;
  while (pos < header_end) {
    size_t end = raw.find("\r\n", pos);
    std::string line = raw.substr(pos, end - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t v = colon + 1;
      while (v < line.size() && line[v] == ' ') ++v;
      out->headers[name] = line.substr(v);
    }
    pos = end + 2;
  }
  const std::string body = raw.substr(header_end + 4);
  auto length = out->headers.find("content-length");
  if (length != out->headers.end()) {
    const size_t n = std::stoul(length->second);
    if (body.size() < n) return false;
    out->body = body.substr(0, n);
    return true;
  }
  auto encoding = out->headers.find("transfer-encoding");
  if (encoding != out->headers.end() && encoding->second == "chunked") {
    // <hex size>\r\n<data>\r\n ... 0\r\n\r\n
    out->body.clear();
    size_t pos = 0;
    while (true) {
      size_t line_end = body.find("\r\n", pos);
      if (line_end == std::string::npos) return false;
      size_t size = std::stoul(body.substr(pos, line_end - pos), nullptr, 16);
      if (size == 0) return true;
      if (body.size() < line_end + 2 + size + 2) return false;
      out->body += body.substr(line_end + 2, size);
      pos = line_end + 2 + size + 2;
    }
  }
  out->body = body;
  return complete_on_close;
}

}  // namespace

Result<int> ConnectLoopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return UnavailableError("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return UnavailableError("connect to port " + std::to_string(port));
  }
  return fd;
}

Result<RawResponse> SendRaw(uint16_t port, const std::string& request, int timeout_ms) {
  VIGIL_ASSIGN_OR_RETURN(int fd, ConnectLoopback(port));
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early (e.g. 413); read what it said
    sent += static_cast<size_t>(n);
  }
  std::string raw;
  RawResponse response;
  char buffer[65536];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) {
      ::close(fd);
      if (ParseResponse(raw, &response, true)) return response;
      return DeadlineExceededError("no complete response within " + std::to_string(timeout_ms) +
                                   " ms; got " + std::to_string(raw.size()) + " bytes");
    }
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    raw.append(buffer, static_cast<size_t>(n));
    if (ParseResponse(raw, &response, false)) {
      ::close(fd);
      return response;
    }
  }
  ::close(fd);
  if (ParseResponse(raw, &response, true)) return response;
  return UnavailableError("connection closed without a response");
}

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

Result<RawResponse> HttpGet(uint16_t port, const std::string& target) {
  return SendRaw(port,
                 "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

Result<RawResponse> HttpPost(uint16_t port, const std::string& target, const std::string& body,
                             const std::string& content_type, const std::string& extra_headers,
                             int timeout_ms) {
  return SendRaw(port,
                 "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                     "Content-Type: " + content_type + "\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body,
                 timeout_ms);
}

}  // namespace vigil::testing
