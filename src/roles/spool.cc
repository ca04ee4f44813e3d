#include "roles/spool.h"

#include <spdlog/spdlog.h>

#include <cstring>

namespace vigil::roles {
namespace {

constexpr size_t kFixed = 13;  // spooled at (8), samples (4), content type length (1)

std::string EncodeEntry(int64_t spooled_ms, uint32_t samples, const bus::Message& message) {
  std::string record(kFixed, '\0');
  uint64_t t = static_cast<uint64_t>(spooled_ms);
  for (int i = 0; i < 8; ++i) record[i] = static_cast<char>((t >> (8 * i)) & 0xff);
  for (int i = 0; i < 4; ++i) record[8 + i] = static_cast<char>((samples >> (8 * i)) & 0xff);
  size_t type_length = std::min<size_t>(message.content_type.size(), 255);
  record[12] = static_cast<char>(type_length);
  record.append(message.content_type, 0, type_length);
  record += message.body;
  return record;
}

std::optional<Spool::Entry> DecodeEntry(std::string_view record) {
  if (record.size() < kFixed) return std::nullopt;
  uint64_t t = 0;
  for (int i = 0; i < 8; ++i)
    t |= static_cast<uint64_t>(static_cast<uint8_t>(record[i])) << (8 * i);
  uint32_t samples = 0;
  for (int i = 0; i < 4; ++i)
    samples |= static_cast<uint32_t>(static_cast<uint8_t>(record[8 + i])) << (8 * i);
  size_t type_length = static_cast<uint8_t>(record[12]);
  if (record.size() < kFixed + type_length) return std::nullopt;
  Spool::Entry entry;
  entry.spooled_ms = static_cast<int64_t>(t);
  entry.samples = samples;
  entry.message.content_type = std::string(record.substr(kFixed, type_length));
  entry.message.body = std::string(record.substr(kFixed + type_length));
  return entry;
}

}  // namespace

Result<std::unique_ptr<Spool>> Spool::Open(Env& env, Clock& clock, Options options) {
  VIGIL_RETURN_IF_ERROR(env.CreateDirs(options.dir));
  // (dir is inside legacy_dir, so that folder exists now.)
  if (!options.legacy_dir.empty()) {
    VIGIL_ASSIGN_OR_RETURN(std::vector<std::string> children, env.Children(options.legacy_dir));
    bool moved = false;
    for (const std::string& name : children) {
      // Segment files are named by number; the agents' own folders are not moved.
      if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
      VIGIL_RETURN_IF_ERROR(
          env.RenameFile(options.legacy_dir + "/" + name, options.dir + "/" + name));
      moved = true;
    }
    if (moved) {
      VIGIL_RETURN_IF_ERROR(env.SyncDir(options.dir));
      VIGIL_RETURN_IF_ERROR(env.SyncDir(options.legacy_dir));
      spdlog::info("spool: moved an earlier version's spool from {} to {}", options.legacy_dir,
                   options.dir);
    }
  }
  std::unique_ptr<Spool> spool(new Spool(env, clock, options));
  // Count what an earlier run left, cutting a torn tail.
  wal::ReplayStats stats;
  VIGIL_RETURN_IF_ERROR(wal::ReplayWal(
                            env, options.dir,
                            [&](uint64_t segment, std::string_view) {
                              if (spool->segments_.empty() ||
                                  spool->segments_.back().first != segment)
                                spool->segments_.emplace_back(segment, 0);
                              ++spool->segments_.back().second;
                              ++spool->batches_;
                              return OkStatus();
                            },
                            &stats)
                            .Annotate("open spool " + options.dir));
  for (const auto& error : stats.errors) spdlog::warn("spool: {}", error);
  wal::WalOptions wal;
  wal.segment_bytes =
      std::max<uint64_t>(4096, std::min<uint64_t>(4ull << 20, options.max_bytes / 8));
  wal.fsync = wal::FsyncPolicy::kAlways;
  VIGIL_ASSIGN_OR_RETURN(spool->writer_, wal::WalWriter::Open(env, options.dir, wal, clock));
  // Segments without a record (an earlier run's empty last one) can go now.
  if (spool->segments_.empty()) {
    VIGIL_RETURN_IF_ERROR(spool->writer_->DeleteSegmentsBefore(spool->writer_->current_segment()));
  }
  if (spool->batches_ > 0)
    spdlog::info("spool: {} batches from an earlier run wait in {}", spool->batches_, options.dir);
  return spool;
}

Status Spool::Append(const bus::Message& message, uint32_t samples) {
  VIGIL_RETURN_IF_ERROR(
      writer_->Append(EncodeEntry(clock_.NowMillis(), samples, message)).Annotate("spool"));
  uint64_t segment = writer_->current_segment();
  if (segments_.empty() || segments_.back().first != segment) segments_.emplace_back(segment, 0);
  ++segments_.back().second;
  ++batches_;
  return DropOldestWhileFull();
}

Status Spool::LoadOldest() {
  while (loaded_.empty() && !segments_.empty()) {
    uint64_t segment = segments_.front().first;
    if (segment == writer_->current_segment()) VIGIL_RETURN_IF_ERROR(writer_->StartNextSegment());
    wal::ReplayStats stats;
    VIGIL_RETURN_IF_ERROR(wal::ReadSegment(
        env_, options_.dir, segment, /*newest=*/false,
        [&](uint64_t, std::string_view record) {
          if (auto entry = DecodeEntry(record)) loaded_.push_back(std::move(*entry));
          return OkStatus();
        },
        &stats));
    for (const auto& error : stats.errors) spdlog::error("spool: {}", error);
    // Whatever could not be read back is lost; say so and count it.
    uint64_t expected = segments_.front().second;
    if (loaded_.size() < expected) {
      uint64_t lost = expected - loaded_.size();
      spdlog::error("spool: segment {} gave back {} of its {} batches", segment, loaded_.size(),
                    expected);
      dropped_ += lost;
      batches_ -= lost;
      segments_.front().second = loaded_.size();
    }
    loaded_segment_ = segment;
    if (loaded_.empty()) {
      VIGIL_RETURN_IF_ERROR(writer_->DeleteSegmentsBefore(segment + 1));
      segments_.pop_front();
    }
  }
  return OkStatus();
}

Result<std::optional<Spool::Entry>> Spool::Front() {
  VIGIL_RETURN_IF_ERROR(LoadOldest());
  if (loaded_.empty()) return std::optional<Entry>();
  return std::optional<Entry>(loaded_.front());
}

int64_t Spool::oldest_ms() {
  if (!LoadOldest().ok() || loaded_.empty()) return 0;
  return loaded_.front().spooled_ms;
}

Status Spool::Pop() {
  if (loaded_.empty()) return FailedPreconditionError("spool: Pop without Front");
  loaded_.pop_front();
  --segments_.front().second;
  --batches_;
  if (loaded_.empty() && segments_.front().second == 0) {
    VIGIL_RETURN_IF_ERROR(writer_->DeleteSegmentsBefore(loaded_segment_ + 1));
    segments_.pop_front();
  }
  return OkStatus();
}

Status Spool::DropOldestWhileFull() {
  while (writer_->total_bytes() > options_.max_bytes && segments_.size() > 1) {
    auto [segment, count] = segments_.front();
    if (segment == loaded_segment_ && !loaded_.empty()) {
      count = loaded_.size();
      loaded_.clear();
    }
    spdlog::warn("spool: full ({} bytes, max {}); dropped its oldest {} batches",
                 writer_->total_bytes(), options_.max_bytes, count);
    dropped_ += count;
    batches_ -= count;
    segments_.pop_front();
    VIGIL_RETURN_IF_ERROR(writer_->DeleteSegmentsBefore(segment + 1));
  }
  return OkStatus();
}

}  // namespace vigil::roles
