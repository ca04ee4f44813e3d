// A Spool keeps an agent's batches on local disk while the broker is unreachable, and
// hands them back, oldest first, when it returns. Segments are the embedded store's log
// files (append-only, a checksum per record; docs/format/spool.md): a torn tail is cut at
// open, a spooled batch survives a restart, and when the spool is full its oldest segment
// is dropped and counted.
//
// Thread safety: one thread at a time (the agent's).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "bus/bus.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/wal.h"

namespace vigil::roles {

class Spool {
 public:
  struct Options {
    std::string dir;
    uint64_t max_bytes = 256ull << 20;
    // Where an earlier version kept the spool (<data_dir>/spool itself), a parent of
    // `dir`: segment files found there are moved into `dir` at open, so nothing spooled
    // is left behind.
    std::string legacy_dir;
  };
  struct Entry {
    int64_t spooled_ms = 0;
    uint32_t samples = 0;
    bus::Message message;  // body and content type
  };

  // Opens (or creates) the spool in `dir`, counting what an earlier run left in it.
  static Result<std::unique_ptr<Spool>> Open(Env& env, Clock& clock, Options options);

  // Appends and syncs one batch, its body (an encoded message: Message::Encode). On error the batch
  // is not spooled (the caller counts it as dropped). When the spool is over its maximum, drops its
  // oldest segments.
  Status Append(const bus::Message& message, uint32_t samples);
  // The oldest batch, or nullopt when the spool is empty. Stays until Pop.
  Result<std::optional<Entry>> Front();
  // Removes the batch Front returned (once it was published).
  Status Pop();

  bool empty() const { return batches_ == 0; }
  uint64_t batches() const { return batches_; }
  uint64_t bytes() const { return writer_->total_bytes(); }
  // When the oldest batch was spooled; 0 when empty.
  int64_t oldest_ms();
  // Batches lost to the bound since the spool was opened.
  uint64_t dropped() const { return dropped_; }

 private:
  Spool(Env& env, Clock& clock, Options options) : env_(env), clock_(clock), options_(options) {}
  // Loads the oldest segment into loaded_ (rolling the writer over when it is that one).
  Status LoadOldest();
  Status DropOldestWhileFull();

  Env& env_;
  Clock& clock_;
  Options options_;
  std::unique_ptr<wal::WalWriter> writer_;
  // Records per segment not yet popped, oldest first (the loaded one included).
  std::deque<std::pair<uint64_t, uint64_t>> segments_;
  std::deque<Entry> loaded_;  // the rest of the oldest segment, in memory
  uint64_t loaded_segment_ = 0;
  uint64_t batches_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace vigil::roles
