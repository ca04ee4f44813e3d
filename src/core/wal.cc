#include "core/wal.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "core/crc32c.h"

namespace vigil::wal {
namespace {

constexpr size_t kFrameHeader = 8;  // length + crc

void PutFixed32(std::string* out, uint32_t v) {
  char bytes[4];
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  out->append(bytes, 4);
}

uint32_t GetFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

bool ParseSequence(const std::string& name, uint64_t* sequence) {
  if (name.size() != 8 || !std::all_of(name.begin(), name.end(), ::isdigit)) return false;
  *sequence = std::stoull(name);
  return true;
}

}  // namespace

std::string SegmentPath(const std::string& dir, uint64_t sequence) {
  return fmt::format("{}/{:08d}", dir, sequence);
}

Result<std::vector<uint64_t>> ListSegments(Env& env, const std::string& dir) {
  auto children = env.Children(dir);
  if (!children.ok() && !env.FileExists(dir)) return std::vector<uint64_t>{};  // no log yet
  VIGIL_ASSIGN_OR_RETURN(std::vector<std::string> names, std::move(children));
  std::vector<uint64_t> segments;
  for (const std::string& name : names) {
    uint64_t sequence = 0;
    if (ParseSequence(name, &sequence)) segments.push_back(sequence);
  }
  std::sort(segments.begin(), segments.end());
  return segments;
}

Status ReadSegment(Env& env, const std::string& dir, uint64_t segment, bool newest,
                   const std::function<Status(uint64_t segment, std::string_view record)>& fn,
                   ReplayStats* stats) {
  const std::string path = SegmentPath(dir, segment);
  VIGIL_ASSIGN_OR_RETURN(std::string contents, env.ReadFile(path));
  stats->bytes += contents.size();
  size_t offset = 0;
  std::string fault;
  while (offset < contents.size()) {
    if (contents.size() - offset < kFrameHeader) {
      fault = "record header cut short";
      break;
    }
    const uint32_t length = GetFixed32(contents.data() + offset);
    const uint32_t crc = GetFixed32(contents.data() + offset + 4);
    if (length == 0 || length > contents.size() - offset - kFrameHeader) {
      fault = fmt::format("record length {} beyond the end of the segment", length);
      break;
    }
    std::string_view record(contents.data() + offset + kFrameHeader, length);
    if (crc32c::Value(record) != crc) {
      fault = "record checksum mismatch";
      break;
    }
    VIGIL_RETURN_IF_ERROR(
        fn(segment, record).Annotate(fmt::format("wal segment {} offset {}", segment, offset)));
    ++stats->records;
    offset += kFrameHeader + length;
  }
  if (fault.empty()) return OkStatus();
  // A record cut short at the end of an older segment is a write that failed (a full disk)
  // and was never acknowledged: the writer went on in a new segment. Cut it like the
  // newest segment's tail, once, rather than report damage at every start.
  const bool cut_short =
      offset + kFrameHeader > contents.size() ||
      GetFixed32(contents.data() + offset) > contents.size() - offset - kFrameHeader;
  if (newest || cut_short) {
    ++stats->torn_tails;
    stats->errors.push_back(fmt::format("wal segment {}: torn tail at offset {} ({}); cut {} bytes",
                                        segment, offset, fault, contents.size() - offset));
    return env.TruncateFile(path, offset);
  }
  ++stats->corrupt_segments;
  stats->errors.push_back(
      fmt::format("wal segment {}: damaged at offset {} ({}); skipped the last {} bytes", segment,
                  offset, fault, contents.size() - offset));
  return OkStatus();
}

Status ReplayWal(Env& env, const std::string& dir,
                 const std::function<Status(uint64_t segment, std::string_view record)>& fn,
                 ReplayStats* stats) {
  VIGIL_ASSIGN_OR_RETURN(std::vector<uint64_t> segments, ListSegments(env, dir));
  for (size_t i = 0; i < segments.size(); ++i) {
    VIGIL_RETURN_IF_ERROR(
        ReadSegment(env, dir, segments[i], /*newest=*/i + 1 == segments.size(), fn, stats));
  }
  return OkStatus();
}

Result<std::unique_ptr<WalWriter>> WalWriter::Open(Env& env, std::string dir, WalOptions options,
                                                   Clock& clock) {
  VIGIL_RETURN_IF_ERROR(env.CreateDirs(dir));
  VIGIL_ASSIGN_OR_RETURN(std::vector<uint64_t> existing, ListSegments(env, dir));
  std::unique_ptr<WalWriter> writer(new WalWriter(env, std::move(dir), options, clock));
  for (uint64_t sequence : existing) {
    VIGIL_ASSIGN_OR_RETURN(uint64_t size, env.FileSize(SegmentPath(writer->dir_, sequence)));
    writer->segments_.emplace_back(sequence, size);
    writer->total_bytes_ += size;
  }
  VIGIL_RETURN_IF_ERROR(writer->StartSegment(existing.empty() ? 1 : existing.back() + 1));
  writer->last_sync_ms_ = clock.NowMillis();
  return writer;
}

WalWriter::~WalWriter() {
  if (file_) (void)file_->Close();
}

Status WalWriter::StartSegment(uint64_t sequence) {
  {
    MutexLock sync(sync_mu_);  // no fdatasync of the old file in flight
    if (file_) {
      MutexLock state(state_mu_);
      if (failed_.load()) {
        // Its bytes not known durable are lost, those written after the failure too.
        lost_through_ = std::max(lost_through_, written_);
      } else if (Status status = file_->Sync(); !status.ok()) {
        lost_through_ = written_;
        lost_status_ = status;
        ++sync_failures_;
        failed_ = true;
        return status;
      } else {
        durable_ = written_;
      }
      (void)file_->Close();  // after a successful sync, nothing of it is at stake
      file_.reset();
      segments_.emplace_back(segment_, segment_size_);
    }
  }
  const std::string path = SegmentPath(dir_, sequence);
  VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env_.NewAppendableFile(path));
  VIGIL_RETURN_IF_ERROR(env_.SyncDir(dir_));
  {
    MutexLock state(state_mu_);
    file_ = std::move(file);
  }
  segment_ = sequence;
  segment_size_ = 0;
  return OkStatus();
}

Status WalWriter::Append(std::string_view record) {
  VIGIL_RETURN_IF_ERROR(Write(record));
  if (options_.fsync != FsyncPolicy::kAlways) return OkStatus();
  return SyncThrough(written());  // a failure marks the segment failed itself
}

Status WalWriter::Write(std::string_view record) {
  const uint64_t framed = kFrameHeader + record.size();
  if (!file_ || segment_size_ >= options_.segment_bytes || failed_.load()) {
    // After a failed write or sync the segment may end in a partial or lost record:
    // later records go to a new segment, so that replay loses only those bytes.
    VIGIL_RETURN_IF_ERROR(StartSegment(segment_ + 1).Annotate("start wal segment"));
    failed_ = false;
  }
  frame_.clear();
  PutFixed32(&frame_, static_cast<uint32_t>(record.size()));
  PutFixed32(&frame_, crc32c::Value(record));
  // The header, then the record itself: no copy of a record of megabytes.
  Status status = file_->Append(frame_);
  if (status.ok()) status = file_->Append(record);
  if (status.ok()) status = file_->Flush();  // survives a process crash
  if (!status.ok()) {
    // A write refused (a full disk) may have left part of the record. Cut it off and go
    // on in this segment, so that refusals neither leave a damaged record behind nor open
    // a segment each; only when the cut fails too does the next record start a new one.
    if (!env_.TruncateFile(SegmentPath(dir_, segment_), segment_size_).ok()) failed_ = true;
    return status;
  }
  segment_size_ += framed;
  total_bytes_ += framed;
  {
    MutexLock state(state_mu_);
    written_ += framed;
  }
  if (options_.fsync == FsyncPolicy::kInterval) status = SyncIfDue();
  if (!status.ok()) failed_ = true;
  return status;
}

uint64_t WalWriter::written() const {
  MutexLock state(state_mu_);
  return written_;
}

Status WalWriter::SyncThrough(uint64_t position) {
  MutexLock sync(sync_mu_);
  if (position <= durable_) return OkStatus();
  if (position <= lost_through_) return lost_status_;
  std::shared_ptr<WritableFile> file;
  uint64_t target = 0;
  {
    MutexLock state(state_mu_);
    file = file_;
    target = written_;
  }
  if (!file) return UnavailableError("sync " + dir_ + ": no open segment");
  Status status = file->SyncFlushed();
  last_sync_ms_ = clock_.NowMillis();
  if (!status.ok()) {
    lost_through_ = target;
    lost_status_ = status;
    ++sync_failures_;
    failed_ = true;
    return status;
  }
  durable_ = target;
  return OkStatus();
}

void WalWriter::MarkWrittenDurable() {
  MutexLock sync(sync_mu_);
  durable_ = std::max(durable_, written());
}

Status WalWriter::SyncIfDue() {
  if (options_.fsync == FsyncPolicy::kAlways) return OkStatus();
  if (clock_.NowMillis() - last_sync_ms_.load() < options_.fsync_interval.count()) {
    return OkStatus();
  }
  return SyncThrough(written());
}

Status WalWriter::DeleteSegmentsBefore(uint64_t sequence) {
  sequence = std::min(sequence, segment_);
  while (!segments_.empty() && segments_.front().first < sequence) {
    Status status = env_.DeleteFile(SegmentPath(dir_, segments_.front().first));
    if (!status.ok() && status.code() != StatusCode::kNotFound) return status;
    total_bytes_ -= segments_.front().second;
    segments_.erase(segments_.begin());
  }
  return OkStatus();
}

}  // namespace vigil::wal
