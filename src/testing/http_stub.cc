#include "testing/http_stub.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace vigil::testing {
namespace {

std::string Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 404:
      return "Not Found";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

void SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace

Result<std::unique_ptr<HttpStub>> HttpStub::Start(Handler handler) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 512) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string error = std::strerror(errno);
    ::close(fd);
    return UnavailableError("http stub: " + error);
  }
  return std::unique_ptr<HttpStub>(new HttpStub(fd, ntohs(addr.sin_port), std::move(handler)));
}

HttpStub::HttpStub(int fd, uint16_t port, Handler handler)
    : listen_fd_(fd), port_(port), handler_(std::move(handler)) {
  acceptor_ = std::thread([this] { Accept(); });
}

HttpStub::~HttpStub() {
  stop_ = true;
  acceptor_.join();
  ::close(listen_fd_);
  MutexLock lock(mu_);
  for (auto& t : connections_) t.join();
}

std::string HttpStub::Url(const std::string& target) const {
  return "http://127.0.0.1:" + std::to_string(port_) + target;
}

void HttpStub::Accept() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    MutexLock lock(mu_);
    connections_.emplace_back([this, fd] { Serve(fd); });
  }
}

void HttpStub::Serve(int fd) {
  std::string raw;
  char buf[8192];
  StubRequest request;
  size_t header_end = std::string::npos;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!stop_ && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
    if (!std::isupper(static_cast<unsigned char>(raw[0]))) {  // not HTTP (a TLS hello): 400
      SendAll(fd, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      break;
    }
    if (header_end == std::string::npos) header_end = raw.find("\r\n\r\n");
    if (header_end == std::string::npos) continue;
    size_t length = 0;
    std::string head = raw.substr(0, header_end);
    size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    size_t sp1 = request_line.find(' '), sp2 = request_line.rfind(' ');
    request.method = request_line.substr(0, sp1);
    request.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t end = head.find("\r\n", pos);
      if (end == std::string::npos) end = head.size();
      std::string line = head.substr(pos, end - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t v = colon + 1;
        while (v < line.size() && line[v] == ' ') ++v;
        request.headers[name] = line.substr(v);
      }
      pos = end + 2;
    }
    if (auto it = request.headers.find("content-length"); it != request.headers.end())
      length = std::stoul(it->second);
    if (raw.size() - header_end - 4 < length) continue;
    request.body = raw.substr(header_end + 4, length);
    ++requests_;
    StubResponse response = handler_(request);
    if (response.delay_ms > 0) {
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(response.delay_ms);
      while (!stop_ && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!response.hang_up) {
      std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " +
                        Reason(response.status) + "\r\nConnection: close\r\n";
      bool has_length = false;
      for (const auto& [name, value] : response.headers) {
        out += name + ": " + value + "\r\n";
        has_length |= strcasecmp(name.c_str(), "content-length") == 0;
      }
      if (!has_length) out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
      out += "\r\n";
      if (request.method != "HEAD") out += response.body;
      SendAll(fd, out);
    }
    break;
  }
  ::close(fd);
}

}  // namespace vigil::testing
