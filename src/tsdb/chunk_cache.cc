#include "tsdb/chunk_cache.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace vigil::tsdb {
namespace {

// What an entry costs beyond its rows' bytes: its slot among the series' blocks, the
// rows' vector and shared block (and a share of the series' map node).
constexpr size_t kEntryOverhead = 96;

size_t RowsBytes(const ChunkCache::Rows& rows) {
  size_t bytes = kEntryOverhead + rows.capacity() * sizeof(ChunkRow);
  for (const ChunkRow& row : rows) bytes += row.data.capacity();
  return bytes;
}

}  // namespace

ChunkCache::Entry* ChunkCache::Generation::Find(const Pair& pair) {
  auto it = series.find(pair.series_id);
  if (it == series.end()) return nullptr;
  Blocks& blocks = it->second;
  auto at = std::lower_bound(blocks.begin(), blocks.end(), pair.block,
                             [](const auto& kept, int64_t block) { return kept.first < block; });
  return at != blocks.end() && at->first == pair.block ? &at->second : nullptr;
}

std::optional<ChunkCache::Entry> ChunkCache::Generation::Take(const Pair& pair) {
  auto it = series.find(pair.series_id);
  if (it == series.end()) return std::nullopt;
  Blocks& blocks = it->second;
  auto at = std::lower_bound(blocks.begin(), blocks.end(), pair.block,
                             [](const auto& kept, int64_t block) { return kept.first < block; });
  if (at == blocks.end() || at->first != pair.block) return std::nullopt;
  Entry entry = std::move(at->second);
  bytes -= entry.bytes;
  blocks.erase(at);
  if (blocks.empty()) series.erase(it);
  return entry;
}

ChunkCache::ChunkCache(size_t capacity_bytes, metrics::Registry& registry)
    : capacity_bytes_(capacity_bytes),
      hits_(registry
                .AddCounter("vigil_tsdb_chunk_cache_hits_total",
                            "A series' 2-hour block whose chunk rows a read found in memory.")
                .WithLabels({})),
      misses_(registry
                  .AddCounter("vigil_tsdb_chunk_cache_misses_total",
                              "A series' 2-hour block whose chunk rows a read took from SQLite.")
                  .WithLabels({})),
      bytes_gauge_(registry
                       .AddGauge("vigil_tsdb_chunk_cache_bytes",
                                 "Bytes of chunk rows kept in memory for reads (at most "
                                 "[storage] chunk_cache_mb).")
                       .WithLabels({})) {}

std::shared_ptr<const ChunkCache::Rows> ChunkCache::Find(uint64_t series_id, int64_t block) {
  if (capacity_bytes_ == 0) return nullptr;
  MutexLock lock(mu_);
  if (Entry* kept = current_.Find({series_id, block})) return kept->rows;
  return RenewLocked({series_id, block});
}

void ChunkCache::FindBlocks(uint64_t series_id, int64_t first_block, int64_t last_block,
                            Found* out) {
  out->clear();
  if (capacity_bytes_ == 0) return;
  auto in_range = [&](const Blocks& blocks) {
    auto first =
        std::lower_bound(blocks.begin(), blocks.end(), first_block,
                         [](const auto& kept, int64_t block) { return kept.first < block; });
    return std::make_pair(first, blocks.end());
  };
  MutexLock lock(mu_);
  if (auto it = current_.series.find(series_id); it != current_.series.end()) {
    for (auto [at, end] = in_range(it->second); at != end && at->first <= last_block; ++at) {
      out->emplace_back(at->first, at->second.rows);
    }
  }
  if (auto it = previous_.series.find(series_id); it != previous_.series.end()) {
    std::vector<int64_t> renewed;  // copied first: renewing changes the generations
    for (auto [at, end] = in_range(it->second); at != end && at->first <= last_block; ++at) {
      renewed.push_back(at->first);
    }
    if (renewed.empty()) return;
    for (int64_t block : renewed) {
      if (auto rows = RenewLocked({series_id, block})) out->emplace_back(block, std::move(rows));
    }
    std::sort(out->begin(), out->end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
  }
}

std::shared_ptr<const ChunkCache::Rows> ChunkCache::RenewLocked(const Pair& pair) {
  std::optional<Entry> entry = previous_.Take(pair);
  if (!entry) return nullptr;
  std::shared_ptr<const Rows> rows = entry->rows;
  PutLocked(pair, std::move(*entry));
  return rows;
}

void ChunkCache::CountFinds(uint64_t hits, uint64_t misses) {
  if (hits > 0) hits_.Inc(static_cast<double>(hits));
  if (misses > 0) misses_.Inc(static_cast<double>(misses));
}

uint64_t ChunkCache::Epoch() {
  MutexLock lock(mu_);
  return epoch_;
}

void ChunkCache::Keep(uint64_t series_id, int64_t block, std::shared_ptr<const Rows> rows,
                      uint64_t epoch) {
  if (capacity_bytes_ == 0) return;
  Entry entry;
  entry.bytes = RowsBytes(*rows);
  if (entry.bytes > capacity_bytes_ / 2) return;
  entry.rows = std::move(rows);
  MutexLock lock(mu_);
  if (writing_ > 0 || epoch != epoch_) return;  // what was read may be older than the database
  PutLocked({series_id, block}, std::move(entry));
}

void ChunkCache::PutLocked(const Pair& pair, Entry entry) {
  if (current_.bytes + entry.bytes > capacity_bytes_ / 2) {
    previous_ = std::move(current_);
    current_ = Generation();
    // A pair both generations held is dropped from the previous one below.
  }
  (void)previous_.Take(pair);
  Blocks& blocks = current_.series[pair.series_id];
  auto at = std::lower_bound(blocks.begin(), blocks.end(), pair.block,
                             [](const auto& kept, int64_t block) { return kept.first < block; });
  if (at == blocks.end() || at->first != pair.block) {  // a pair kept already stays as it is
    current_.bytes += entry.bytes;
    blocks.emplace(at, pair.block, std::move(entry));
  }
  PublishBytesLocked();
}

void ChunkCache::BeginLocked() {
  ++writing_;
  ++epoch_;
}

void ChunkCache::DropLocked(const Pair& pair) {
  for (Generation* g : {&current_, &previous_}) (void)g->Take(pair);
}

void ChunkCache::WriteBeginsUpTo(int64_t last_block) {
  MutexLock lock(mu_);
  BeginLocked();
  for (Generation* g : {&current_, &previous_}) {
    for (auto it = g->series.begin(); it != g->series.end();) {
      Blocks& blocks = it->second;
      auto end = std::find_if(blocks.begin(), blocks.end(),
                              [&](const auto& kept) { return kept.first > last_block; });
      for (auto at = blocks.begin(); at != end; ++at) g->bytes -= at->second.bytes;
      blocks.erase(blocks.begin(), end);
      it = blocks.empty() ? g->series.erase(it) : std::next(it);
    }
  }
  PublishBytesLocked();
}

void ChunkCache::WriteBeginsAll() {
  MutexLock lock(mu_);
  BeginLocked();
  current_ = Generation();
  previous_ = Generation();
  PublishBytesLocked();
}

void ChunkCache::WriteEnds() {
  MutexLock lock(mu_);
  --writing_;
  ++epoch_;
}

size_t ChunkCache::bytes() {
  MutexLock lock(mu_);
  return current_.bytes + previous_.bytes;
}

void ChunkCache::PublishBytesLocked() {
  bytes_gauge_.Set(static_cast<double>(current_.bytes + previous_.bytes));
}

}  // namespace vigil::tsdb
