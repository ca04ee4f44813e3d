// A BatchWriter is where the datamanager puts what it consumes: the JSON-lines file
// sink now, the embedded TSDB and PostgreSQL stores as they land. The datamanager acks
// a message only after Append and Flush both returned OK, so Flush must make the data
// as durable as the writer promises.
//
// Thread safety: implementations say; the datamanager calls from one thread.
#pragma once

#include "core/status.h"
#include "model/batch.h"

namespace vigil::store {

class BatchWriter {
 public:
  virtual ~BatchWriter() = default;
  virtual Status Append(const model::Batch& batch) = 0;
  virtual Status Flush() = 0;
};

}  // namespace vigil::store
