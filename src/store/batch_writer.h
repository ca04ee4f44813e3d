// A BatchWriter is where the datamanager puts what it consumes: the stores (store.h) and
// the JSON-lines file sink. The datamanager acks a message only after Append and Flush
// both returned OK, so Flush must make the data as durable as the writer promises.
// Append takes what it can and counts the rest (nobody could be told); AppendAll is for
// a batch whose sender waits for the answer (an HTTP write): all or nothing, with
// InvalidArgument naming what it refused.
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
  // A writer that refuses nothing appends as Append does.
  virtual Status AppendAll(const model::Batch& batch) { return Append(batch); }
  virtual Status Flush() = 0;
};

}  // namespace vigil::store
