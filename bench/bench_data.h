// Data sets for the benchmarks: batches shaped like a real agent's (a metric name, an
// agent and a server label, a unit), with realistic timestamps and random-walk values.
#pragma once

#include "model/batch.h"

namespace vigil::bench {

// `series` series of `samples` samples each, 1 s apart.
model::Batch MakeBatch(int series, int samples, uint64_t seed = 1);

}  // namespace vigil::bench
