#include "core/helper_thread.h"

#include <sched.h>

#include <memory>
#include <string>
#include <utility>

#include "core/check.h"

namespace vigil {
namespace {

struct Start {
  std::function<void()> fn;
  bool narrowed = false;  // created away from its creator's CPU
  cpu_set_t allowed;      // the creator's CPUs, given back as the thread starts
};

void* Run(void* arg) {
  std::unique_ptr<Start> start(static_cast<Start*>(arg));
  if (start->narrowed) {
    (void)pthread_setaffinity_np(pthread_self(), sizeof start->allowed, &start->allowed);
  }
  start->fn();
  return nullptr;
}

}  // namespace

HelperThread::HelperThread(std::function<void()> fn) {
  auto start = std::make_unique<Start>();
  start->fn = std::move(fn);
  pthread_attr_t attr;
  VIGIL_CHECK(pthread_attr_init(&attr) == 0, "pthread_attr_init");
  CPU_ZERO(&start->allowed);
  const int here = sched_getcpu();
  if (sched_getaffinity(0, sizeof start->allowed, &start->allowed) == 0 && here >= 0 &&
      here < CPU_SETSIZE && CPU_ISSET(here, &start->allowed) && CPU_COUNT(&start->allowed) > 1) {
    cpu_set_t elsewhere = start->allowed;
    CPU_CLR(here, &elsewhere);
    start->narrowed = pthread_attr_setaffinity_np(&attr, sizeof elsewhere, &elsewhere) == 0;
  }
  Start* arg = start.release();
  int created = pthread_create(&thread_, &attr, Run, arg);
  if (created != 0 && arg->narrowed) {  // the narrowed set refused: start it anywhere
    arg->narrowed = false;
    created = pthread_create(&thread_, nullptr, Run, arg);
  }
  pthread_attr_destroy(&attr);
  if (created != 0) delete arg;
  VIGIL_CHECK(created == 0, "pthread_create failed: " + std::to_string(created));
  joinable_ = true;
}

HelperThread::HelperThread(HelperThread&& other) noexcept
    : thread_(other.thread_), joinable_(std::exchange(other.joinable_, false)) {}

HelperThread& HelperThread::operator=(HelperThread&& other) noexcept {
  VIGIL_CHECK(!joinable_, "a running helper thread replaced without a join");
  thread_ = other.thread_;
  joinable_ = std::exchange(other.joinable_, false);
  return *this;
}

HelperThread::~HelperThread() { VIGIL_CHECK(!joinable_, "a helper thread went without a join"); }

void HelperThread::join() {
  VIGIL_CHECK(joinable_, "join of a helper thread not running");
  VIGIL_CHECK(pthread_join(thread_, nullptr) == 0, "pthread_join");
  joinable_ = false;
}

}  // namespace vigil
