// A deliberately raw HTTP/1.1 client for tests: sends exactly the bytes given (so tests
// can send malformed or oversized requests) to 127.0.0.1:port and parses one response.
//
// Thread safety: functions; each call uses its own connection.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/status.h"

namespace vigil::testing {

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
};

// A TCP connection to 127.0.0.1:port (a file descriptor the caller closes).
Result<int> ConnectLoopback(uint16_t port);
// Connects, sends `request`, reads one response (by Content-Length, or to the close).
Result<RawResponse> SendRaw(uint16_t port, const std::string& request, int timeout_ms = 5000);
// `s` percent-encoded for a URL or a form body (RFC 3986 unreserved characters kept).
std::string UrlEncode(std::string_view s);
// GET `target` with Connection: close.
Result<RawResponse> HttpGet(uint16_t port, const std::string& target);
// POST `body` to `target` with the given content type.
Result<RawResponse> HttpPost(uint16_t port, const std::string& target, const std::string& body,
                             const std::string& content_type, const std::string& extra_headers = "",
                             int timeout_ms = 5000);

}  // namespace vigil::testing
