// RunTransfers drives a set of prepared libcurl easy handles to completion on one multi
// handle, at most `max_in_flight` at a time — the loop shared by the http probe and the
// scrape sensor. CurlInitOnce sets libcurl up for the process. Only sensors/http/ and
// sensors/scrape/ include libcurl.
//
// Thread safety: one multi handle per thread at a time (libcurl's rule).
#pragma once

#include <curl/curl.h>

#include <functional>
#include <vector>

#include "core/status.h"

namespace vigil::sensors::http {

void CurlInitOnce();

// Runs every handle in `easy`; calls on_done(index, result) as each finishes (the handle is
// already removed from `multi`). Unavailable only when libcurl's multi interface fails.
Status RunTransfers(CURLM* multi, const std::vector<CURL*>& easy, size_t max_in_flight,
                    const std::function<void(size_t index, CURLcode result)>& on_done);

}  // namespace vigil::sensors::http
