// InfluxDB line protocol (the format Telegraf and anything that writes to InfluxDB
// sends to /write and /api/v2/write) to a Batch: each field becomes a series named
// `<measurement>_<field>` with the tags as labels; names are made valid Prometheus names
// (other characters become `_`). Integer (`5i`, `5u`), float and boolean fields become
// numbers; string fields are skipped and counted. A batch is all or nothing: one
// malformed line rejects it with the line number. docs/http-api.md.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/status.h"
#include "model/batch.h"

namespace vigil::web {

struct LineProtocolResult {
  model::Batch batch;
  int64_t lines = 0;
  int64_t skipped_string_fields = 0;
};

// `precision`: ns (default), us, ms, s, m or h. Lines without a timestamp get `now_ms`.
// InvalidArgument "line 3: …" for the first malformed line.
Result<LineProtocolResult> ParseLineProtocol(std::string_view body, std::string_view precision,
                                             int64_t now_ms);

}  // namespace vigil::web
