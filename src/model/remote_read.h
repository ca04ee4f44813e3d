// Prometheus remote read 1.0 (proto/remote.proto, ReadRequest and ReadResponse with the
// SAMPLES response type), snappy-compressed as a whole: what POST /api/v1/read takes and
// answers, so a Prometheus can read vigil's history (docs/http-api.md).
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/batch.h"
#include "model/matcher.h"

namespace vigil::model {

struct ReadQuery {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::vector<Matcher> matchers;
};

// InvalidArgument for a body that is not a snappy ReadRequest or has an invalid matcher.
Result<std::vector<ReadQuery>> DecodeReadRequest(std::string_view compressed);
// One result per query, in the order of the request.
std::string EncodeReadResponse(const std::vector<std::vector<Series>>& results);

}  // namespace vigil::model
