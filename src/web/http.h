// The web tier's view of HTTP, free of Boost: a parsed request and the response a
// handler returns. The Beast server (web/http_server.cc) converts to and from these, so
// handlers (web/api.cc) and their tests need no networking code.
//
// Thread safety: plain values.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace vigil::web {

struct HttpRequest {
  std::string method;                              // "GET", "POST" …
  std::string path;                                // decoded, without the query string
  std::multimap<std::string, std::string> params;  // query string, then form body
  std::map<std::string, std::string> headers;      // names lower-case
  std::string body;
  std::string remote;  // peer address, for logs

  // The first value of a parameter, or "" (and `found` false).
  std::string Param(const std::string& name, bool* found = nullptr) const;
  std::vector<std::string> Params(const std::string& name) const;
  std::string Header(const std::string& lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is sent in chunks (Transfer-Encoding: chunked) instead of `body`:
  // called on a worker thread until it returns false, each call appending the next part.
  std::function<bool(std::string& chunk)> stream;
};

// `in` gzip-compressed (for Content-Encoding: gzip), at the best compression.
std::string Gzip(std::string_view in);

// A body sent with `Content-Encoding` (or a gzip transfer coding): "" and "identity" as
// is; "gzip" / "x-gzip" (Telegraf, Vector) and "snappy" (raw snappy blocks, as Prometheus's
// remote write sends) decoded, at most `max_bytes` once decoded (a small body must not
// inflate into gigabytes). InvalidArgument for a body that does not decode or grows past
// the bound; Unimplemented for any other encoding.
Result<std::string> DecodeBody(std::string_view encoding, std::string body, size_t max_bytes);

// Whether a browser request may act on this server: true without an `origin` (not from a
// page), when the origin's host:port is the request's `host` (the server's own pages), or
// when it is listed in `allowed` ("*" allows any). Guards the write endpoints and /ws
// against pages of other sites (cross-site request forgery).
bool OriginAllowed(std::string_view origin, std::string_view host,
                   const std::vector<std::string>& allowed);

// Prometheus's error shape: {"status":"error","errorType":…,"error":…}. errorType is
// bad_data for 400, not_found for 404, unauthorized (401), forbidden (403),
// too_large (413), execution (422), unavailable (503), internal otherwise; `type` when
// given (a query timeout is a 503 of type "timeout", as Prometheus answers it).
HttpResponse JsonError(int status, std::string_view message, std::string_view type = "");

// Decodes %XX and '+' (in query strings and forms); false for a malformed escape.
bool UrlDecode(std::string_view in, std::string* out);
// Parses "a=1&b=2" into `out`; false for a malformed escape.
bool ParseQueryString(std::string_view query, std::multimap<std::string, std::string>* out);

}  // namespace vigil::web
