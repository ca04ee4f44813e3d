// Encoding of data batches for the bus and the push endpoint.
//
// Binary (the default): a Prometheus remote-write 1.0 WriteRequest (proto/remote.proto),
// snappy block-compressed, as POST /api/v1/write carries it; encoded and decoded by hand
// for speed (docs/adr/0002-batch-wire-format.md), checked against libprotobuf in tests.
// JSON (on request): {"series":[{"labels":{...},"samples":[[timestamp_ms, value],...]}]}
// with non-finite values as the strings "NaN", "+Inf", "-Inf".
//
// Decoding never trusts its input: any byte string yields a Batch or InvalidArgument,
// and a claimed size above kMaxDecodedBatchBytes is refused before allocating it.
//
// Thread safety: free functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "model/batch.h"

namespace vigil::model {

inline constexpr std::string_view kProtobufContentType = "application/x-protobuf";
inline constexpr std::string_view kJsonContentType = "application/json";
inline constexpr size_t kMaxDecodedBatchBytes = 64 << 20;

// Appends nothing to `out`: replaces its contents with the snappy-compressed WriteRequest.
void EncodeBatch(const Batch& batch, std::string* out);
std::string EncodeBatch(const Batch& batch);
Result<Batch> DecodeBatch(std::string_view compressed);

// The uncompressed protobuf bytes, without snappy (for tests and tools).
std::string EncodeWriteRequest(const Batch& batch);
Result<Batch> DecodeWriteRequest(std::string_view bytes);

std::string EncodeBatchJson(const Batch& batch);
Result<Batch> DecodeBatchJson(std::string_view json);

// Dispatches on the content type (kProtobufContentType or kJsonContentType).
Result<Batch> DecodeBatchAs(std::string_view content_type, std::string_view body);

}  // namespace vigil::model
