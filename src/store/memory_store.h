// MemoryStore keeps every sample in ordered maps, with no compression and no
// durability: the naive reference the embedded TSDB and PostgreSQL stores are compared
// against in randomized tests, and a store for unit tests of the web and query layers.
//
// Thread safety: every method may be called from any thread (one mutex).
#pragma once

#include <map>

#include "core/mutex.h"
#include "store/store.h"

namespace vigil::store {

class MemoryStore final : public Store {
 public:
  struct Options {
    // Samples older than the series' newest by more than this are rejected (<= 0: never).
    int64_t out_of_order_window_ms = 3'600'000;
    // Points one Select or Aggregate may return.
    int64_t max_points = 10'000'000;
  };
  MemoryStore() : MemoryStore(Options()) {}
  explicit MemoryStore(Options options) : options_(options) {}

  Status Append(const model::Batch& batch) override;
  Status AppendAll(const model::Batch& batch) override;
  Status Flush() override { return OkStatus(); }
  Result<SelectResult> Select(const std::vector<model::Matcher>& matchers, int64_t start_ms,
                              int64_t end_ms) override;
  Result<SelectResult> Aggregate(const AggregateQuery& query) override;
  Result<std::vector<model::Labels>> Series(const std::vector<model::Matcher>& matchers) override;
  Result<std::vector<std::string>> LabelNames(const std::vector<model::Matcher>& matchers) override;
  Result<std::vector<std::string>> LabelValues(
      const std::string& name, const std::vector<model::Matcher>& matchers) override;

  // What Append dropped: same series and timestamp as a stored sample / too old.
  uint64_t duplicates() const;
  uint64_t rejected() const;

 private:
  Status AppendLocked(const model::Batch& batch) VIGIL_REQUIRES(mu_);

  Options options_;
  mutable Mutex mu_;
  std::map<model::Labels, std::map<int64_t, double>> series_ VIGIL_GUARDED_BY(mu_);
  uint64_t duplicates_ VIGIL_GUARDED_BY(mu_) = 0;
  uint64_t rejected_ VIGIL_GUARDED_BY(mu_) = 0;
};

}  // namespace vigil::store
