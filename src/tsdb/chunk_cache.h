// ChunkCache keeps the chunk rows of recently read (series, 2-hour block) pairs in memory,
// so that a query run again (a dashboard's refresh, Grafana's panels) reads them without
// SQLite: a statement per series and block cost about as much as decoding the block's
// samples, a quarter of a day-long query's time. The rows are kept as stored (compressed),
// so a byte of cache holds 2–3 samples of a compacted block.
//
// Bounded in bytes, in two generations as VictoriaMetrics's workingsetcache: entries go
// into the current one; when it holds half the budget it becomes the previous one and the
// one before is dropped; a hit in the previous one moves the entry back to the current.
//
// It never serves rows older than the database's. The writer calls WriteBegins with the
// pairs a transaction changes (or all of them) before the transaction begins, and
// WriteEnds once it has committed or rolled back. WriteBegins drops those pairs, and a
// reader keeps what it read only when no write began or ran since it took its Epoch
// (before its read transaction's first statement). A reader may meet rows newer than its
// own snapshot, as if it had taken that snapshot a moment later.
//
// Thread safety: everything here may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/metrics.h"
#include "core/mutex.h"
#include "tsdb/chunk_db.h"

namespace vigil::tsdb {

class ChunkCache {
 public:
  using Rows = std::vector<ChunkRow>;  // one pair's rows, by min_t; empty: none stored

  // capacity_bytes 0: nothing is kept.
  ChunkCache(size_t capacity_bytes, metrics::Registry& registry);

  // The rows of the pair, or null when they are not kept.
  std::shared_ptr<const Rows> Find(uint64_t series_id, int64_t block);
  // The kept blocks of a series from first_block to last_block, ascending, into `out`
  // (replaced): what a read of the series over that range finds, with one lookup.
  using Found = std::vector<std::pair<int64_t, std::shared_ptr<const Rows>>>;
  void FindBlocks(uint64_t series_id, int64_t first_block, int64_t last_block, Found* out);
  // Adds to the hit and miss counters: a reader counts its Finds and adds them once at
  // the end of its read transaction (one atomic update, not one a block).
  void CountFinds(uint64_t hits, uint64_t misses);

  // What a reader takes before its read transaction's first statement, and gives Keep.
  uint64_t Epoch();
  // Keeps every row of the pair as read under `epoch`, unless a write began since.
  void Keep(uint64_t series_id, int64_t block, std::shared_ptr<const Rows> rows, uint64_t epoch);

  // The writer's side, around each transaction that changes chunk rows.
  struct Pair {
    uint64_t series_id;
    int64_t block;
  };
  // The pairs are pair_of(item) for each of `items` (rows, groups), looked at only when
  // the cache holds anything: a persist at a million series writes a million rows.
  template <typename Items, typename PairOf>
  void WriteBegins(const Items& items, PairOf&& pair_of) {
    MutexLock lock(mu_);
    BeginLocked();
    if (current_.empty() && previous_.empty()) return;
    for (const auto& item : items) DropLocked(pair_of(item));
    PublishBytesLocked();
  }
  void WriteBeginsUpTo(int64_t last_block);  // the pairs of every block up to last_block
  void WriteBeginsAll();
  void WriteEnds();

  size_t bytes();  // held, both generations

 private:
  struct Entry {
    std::shared_ptr<const Rows> rows;
    size_t bytes = 0;
  };
  // Per series, its kept blocks by block number (ascending): a read looks a series up
  // once, not once per 2 hours of its range (a hash lookup, a division and a few cache
  // misses each — 7 % of a day-long sum over 1,000 series when it was per block).
  using Blocks = std::vector<std::pair<int64_t, Entry>>;
  struct Generation {
    std::unordered_map<uint64_t, Blocks> series;
    size_t bytes = 0;
    bool empty() const { return series.empty(); }
    Entry* Find(const Pair& pair);
    std::optional<Entry> Take(const Pair& pair);  // removed from the generation
  };

  void BeginLocked() VIGIL_REQUIRES(mu_);
  void DropLocked(const Pair& pair) VIGIL_REQUIRES(mu_);
  // Moves a pair the previous generation holds to the current one; its rows, or null.
  std::shared_ptr<const Rows> RenewLocked(const Pair& pair) VIGIL_REQUIRES(mu_);
  void PutLocked(const Pair& pair, Entry entry) VIGIL_REQUIRES(mu_);
  void PublishBytesLocked() VIGIL_REQUIRES(mu_);

  const size_t capacity_bytes_;
  Mutex mu_;
  uint64_t epoch_ VIGIL_GUARDED_BY(mu_) = 0;  // changes as each write begins and ends
  int writing_ VIGIL_GUARDED_BY(mu_) = 0;     // writes begun and not ended
  Generation current_ VIGIL_GUARDED_BY(mu_);
  Generation previous_ VIGIL_GUARDED_BY(mu_);
  metrics::Counter& hits_;
  metrics::Counter& misses_;
  metrics::Gauge& bytes_gauge_;
};

}  // namespace vigil::tsdb
