#include "common/sim/lane_threads.hpp"

#include <utility>

#include "common/assert.hpp"

namespace mhr {
namespace {
void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}
}  // namespace

void SpinBarrier::arrive_and_wait() {
  // About a millisecond of spinning: a simulator window is usually shorter.
  constexpr int kSpins = 1 << 14;
  const std::uint32_t generation = generation_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == threads_) {
    arrived_.store(0, std::memory_order_relaxed);
    generation_.store(generation + 1, std::memory_order_release);
    generation_.notify_all();
    return;
  }
  for (int spins = 0; generation_.load(std::memory_order_acquire) == generation; ++spins) {
    if (spins < kSpins)
      cpu_relax();
    else
      generation_.wait(generation, std::memory_order_acquire);
  }
}

LaneThreads::LaneThreads(std::uint32_t threads)
    : threads_(threads), start_(threads), done_(threads) {
  MHR_ASSERT_MSG(threads >= 1, "LaneThreads needs at least one thread");
  workers_.reserve(threads - 1);
  for (std::uint32_t t = 1; t < threads; ++t) workers_.emplace_back([this, t] { work(t); });
}

LaneThreads::~LaneThreads() {
  stop_ = true;
  start_.arrive_and_wait();
  for (std::thread& w : workers_) w.join();
}

void LaneThreads::run(const Job& job) {
  job_ = &job;
  start_.arrive_and_wait();
  run_guarded(0);
  done_.arrive_and_wait();
  job_ = nullptr;
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void LaneThreads::work(std::uint32_t thread) {
  for (;;) {
    start_.arrive_and_wait();
    if (stop_) return;
    run_guarded(thread);
    done_.arrive_and_wait();
  }
}

void LaneThreads::run_guarded(std::uint32_t thread) {
  try {
    (*job_)(thread);
  } catch (...) {
    std::lock_guard lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

}  // namespace mhr
