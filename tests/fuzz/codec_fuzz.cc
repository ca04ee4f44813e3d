// Feeds arbitrary bytes to the batch decoders: each must return a batch or an error,
// never crash, and a decoded batch must survive encode -> decode unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "model/batch_codec.h"

namespace {

void CheckRoundTrip(const vigil::model::Batch& batch) {
  std::string bytes = vigil::model::EncodeWriteRequest(batch);
  auto again = vigil::model::DecodeWriteRequest(bytes);
  if (!again.ok() || vigil::model::EncodeWriteRequest(*again) != bytes) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto batch = vigil::model::DecodeWriteRequest(input); batch.ok()) CheckRoundTrip(*batch);
  if (auto batch = vigil::model::DecodeBatch(input); batch.ok()) CheckRoundTrip(*batch);
  if (auto batch = vigil::model::DecodeBatchJson(input); batch.ok()) CheckRoundTrip(*batch);
  return 0;
}
