// The HTTP client every module shares (the http probe, the scrape sensor, the alert
// notifier's webhooks): RunTransfers drives a set of prepared libcurl easy handles to
// completion on one multi handle, at most `max_in_flight` at a time; CurlInitOnce sets
// libcurl up for the process; CheckRequestOptions validates the options the sensors take;
// ApplyCredentials puts net/credentials.h's on a request; Fetch is one blocking request
// (the command line's client of the HTTP API). net/ is the only module that
// links libcurl; its users include this header for the easy-handle options.
//
// Thread safety: one multi handle per thread at a time (libcurl's rule).
#pragma once

#include <curl/curl.h>

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "net/credentials.h"

namespace vigil::net {

void CurlInitOnce();

struct HttpReply {
  long status = 0;
  std::string body;
};
// One request, waited for: `method` GET or POST (with `body`), `headers` "Name: value".
// Unavailable when no reply came (refused, timed out), with libcurl's reason.
Result<HttpReply> Fetch(const std::string& method, const std::string& url, const std::string& body,
                        const std::vector<std::string>& headers, long timeout_ms);

// InvalidArgument unless there is at least one target and each is an http:// or https://
// URL, each header is "Name: value", and 0 < timeout <= interval.
Status CheckRequestOptions(const std::vector<std::string>& targets,
                           const std::vector<std::string>& headers, int64_t interval_ms,
                           int64_t timeout_ms);

// Makes the request authenticate with `credentials` (net/credentials.h).
void ApplyCredentials(CURL* easy, const Credentials& credentials);

// libcurl's words for a failed transfer: its error buffer when it filled one, else the
// code's text, without the times libcurl puts in ("after 0 ms", "after 1001 milliseconds"),
// so the same failure reads the same on every attempt (an agent announces a target's
// error when it changes).
std::string TransferError(const char* error_buffer, CURLcode code);

// Runs every handle in `easy`; calls on_done(index, result) as each finishes (the handle is
// already removed from `multi`). Unavailable only when libcurl's multi interface fails.
Status RunTransfers(CURLM* multi, const std::vector<CURL*>& easy, size_t max_in_flight,
                    const std::function<void(size_t index, CURLcode result)>& on_done);

}  // namespace vigil::net
