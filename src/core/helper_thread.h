// A thread that helps the one starting it with part of a request (the second reader of
// a query, the second half of a large answer), started on another CPU at once.
//
// Why not std::thread: Linux starts a new thread on its creator's CPU, where it waits
// behind its creator until the load balancer moves it — 3–4 ms on the 2-vCPU machines
// vigil is measured on, as long as a whole `rate` query over a day, which then ran on one
// CPU. A HelperThread is created allowed only on the CPUs its creator is not running on,
// so it starts on one of them within a tenth of a millisecond, then allows itself its
// creator's CPUs again. With a single CPU allowed it is an ordinary thread.
//
// Thread safety: as std::thread — start, join and destroy it from one thread.
#pragma once

#include <pthread.h>

#include <functional>

namespace vigil {

class HelperThread {
 public:
  HelperThread() = default;
  // Starts fn on the new thread.
  explicit HelperThread(std::function<void()> fn);
  HelperThread(HelperThread&& other) noexcept;
  HelperThread& operator=(HelperThread&& other) noexcept;
  HelperThread(const HelperThread&) = delete;
  HelperThread& operator=(const HelperThread&) = delete;
  // A helper must be joined before it goes, as a std::thread must.
  ~HelperThread();

  bool joinable() const { return joinable_; }
  void join();

 private:
  pthread_t thread_{};
  bool joinable_ = false;
};

}  // namespace vigil
