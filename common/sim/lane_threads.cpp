#include "common/sim/lane_threads.hpp"

#include <utility>

#include "common/assert.hpp"

namespace mhr {

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
