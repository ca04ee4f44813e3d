#include "tsdb/chunk_cache.h"

#include <functional>
#include <utility>

namespace vigil::tsdb {
namespace {

// What an entry costs beyond its rows' bytes: the map's node and the vector's block.
constexpr size_t kEntryOverhead = 96;

size_t RowsBytes(const ChunkCache::Rows& rows) {
  size_t bytes = kEntryOverhead + rows.capacity() * sizeof(ChunkRow);
  for (const ChunkRow& row : rows) bytes += row.data.capacity();
  return bytes;
}

}  // namespace

size_t ChunkCache::KeyHash::operator()(const Key& k) const {
  return std::hash<uint64_t>()(k.series_id * 0x9E3779B97F4A7C15ull ^
                               static_cast<uint64_t>(k.block));
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
  const Key key{series_id, block};
  MutexLock lock(mu_);
  if (auto it = current_.entries.find(key); it != current_.entries.end()) {
    return it->second.rows;
  }
  auto it = previous_.entries.find(key);
  if (it == previous_.entries.end()) return nullptr;
  Entry entry = std::move(it->second);
  previous_.bytes -= entry.bytes;
  previous_.entries.erase(it);
  std::shared_ptr<const Rows> rows = entry.rows;
  PutLocked(key, std::move(entry));
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

void ChunkCache::Keep(uint64_t series_id, int64_t block, Rows rows, uint64_t epoch) {
  if (capacity_bytes_ == 0) return;
  Entry entry;
  entry.bytes = RowsBytes(rows);
  if (entry.bytes > capacity_bytes_ / 2) return;
  entry.rows = std::make_shared<const Rows>(std::move(rows));
  MutexLock lock(mu_);
  if (writing_ > 0 || epoch != epoch_) return;  // what was read may be older than the database
  PutLocked({series_id, block}, std::move(entry));
}

void ChunkCache::PutLocked(const Key& key, Entry entry) {
  if (current_.bytes + entry.bytes > capacity_bytes_ / 2) {
    previous_ = std::move(current_);
    current_ = Generation();
    // A key both generations held is dropped from the previous one below.
  }
  if (auto old = previous_.entries.find(key); old != previous_.entries.end()) {
    previous_.bytes -= old->second.bytes;
    previous_.entries.erase(old);
  }
  const size_t bytes = entry.bytes;
  auto [it, inserted] = current_.entries.try_emplace(key, std::move(entry));
  if (inserted) {
    current_.bytes += bytes;
  }
  PublishBytesLocked();
}

void ChunkCache::BeginLocked() {
  ++writing_;
  ++epoch_;
}

void ChunkCache::DropLocked(const Pair& pair) {
  for (Generation* g : {&current_, &previous_}) {
    if (auto it = g->entries.find({pair.series_id, pair.block}); it != g->entries.end()) {
      g->bytes -= it->second.bytes;
      g->entries.erase(it);
    }
  }
}

void ChunkCache::WriteBeginsUpTo(int64_t last_block) {
  MutexLock lock(mu_);
  BeginLocked();
  for (Generation* g : {&current_, &previous_}) {
    std::erase_if(g->entries, [&](const auto& item) {
      if (item.first.block > last_block) return false;
      g->bytes -= item.second.bytes;
      return true;
    });
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
