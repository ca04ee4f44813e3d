// Mutex, MutexLock and CondVar: std::mutex and std::condition_variable_any carrying clang's
// thread-safety annotations (leveldb's port::Mutex and thread_annotations.h), so that the
// clang build (-Wthread-safety, an error there) checks what the comments used to say:
// a field marked VIGIL_GUARDED_BY(mu_) is read and written only with mu_ held, and a
// function marked VIGIL_REQUIRES(mu_) is called only with it held. With GCC the
// annotations are empty.
//
//   Mutex mu_;
//   int count_ VIGIL_GUARDED_BY(mu_) = 0;
//   void Add() { MutexLock lock(mu_); ++count_; }
//   void Wait() { MutexLock lock(mu_); cv_.wait(lock, [&]() VIGIL_REQUIRES(mu_) { return count_ >
//   0; }); }
//
// Thread safety: these are the primitives.
#pragma once

#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define VIGIL_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define VIGIL_THREAD_ANNOTATION(x)
#endif

#define VIGIL_CAPABILITY(x) VIGIL_THREAD_ANNOTATION(capability(x))
#define VIGIL_SCOPED_CAPABILITY VIGIL_THREAD_ANNOTATION(scoped_lockable)
#define VIGIL_GUARDED_BY(x) VIGIL_THREAD_ANNOTATION(guarded_by(x))
#define VIGIL_PT_GUARDED_BY(x) VIGIL_THREAD_ANNOTATION(pt_guarded_by(x))
#define VIGIL_REQUIRES(...) VIGIL_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define VIGIL_ACQUIRE(...) VIGIL_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define VIGIL_RELEASE(...) VIGIL_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define VIGIL_TRY_ACQUIRE(...) VIGIL_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define VIGIL_EXCLUDES(...) VIGIL_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define VIGIL_ASSERT_HELD(x) VIGIL_THREAD_ANNOTATION(assert_capability(x))
#define VIGIL_NO_THREAD_SAFETY_ANALYSIS VIGIL_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace vigil {

class VIGIL_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() VIGIL_ACQUIRE() { mu_.lock(); }
  void unlock() VIGIL_RELEASE() { mu_.unlock(); }
  bool try_lock() VIGIL_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis the caller holds this mutex (where it cannot see the lock taken).
  void AssertHeld() const VIGIL_ASSERT_HELD(this) {}

 private:
  std::mutex mu_;
};

// Holds `mu` for its scope. unlock() and lock() let it go and take it again in between
// (and let a CondVar wait on it); the destructor releases it only if held.
class VIGIL_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) VIGIL_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() VIGIL_RELEASE() {
    if (held_) mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void lock() VIGIL_ACQUIRE() {
    mu_.lock();
    held_ = true;
  }
  void unlock() VIGIL_RELEASE() {
    held_ = false;
    mu_.unlock();
  }

 private:
  Mutex& mu_;
  bool held_ = true;
};

// Waits on a MutexLock: cv.wait(lock, pred), cv.wait_for(lock, timeout, pred) …
using CondVar = std::condition_variable_any;

}  // namespace vigil
