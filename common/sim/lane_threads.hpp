// LaneThreads: a fixed crew of threads that runs one job on every thread at
// once and returns when all have finished; the caller's thread is thread 0.
// SimWorld runs its lanes side by side with it. The barriers order memory:
// what a job wrote is visible to the caller after run(), and what the
// caller wrote before run() is visible to every job.
#pragma once

#include <barrier>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mhr {

// A pause for a thread that spins waiting for another.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

class LaneThreads {
 public:
  using Job = std::function<void(std::uint32_t thread)>;

  explicit LaneThreads(std::uint32_t threads);
  ~LaneThreads();
  LaneThreads(const LaneThreads&) = delete;
  LaneThreads& operator=(const LaneThreads&) = delete;

  std::uint32_t size() const { return threads_; }
  // Runs job(t) for every t in [0, size()) at once; rethrows the first
  // exception a job threw once all have finished.
  void run(const Job& job);

 private:
  void work(std::uint32_t thread);
  void run_guarded(std::uint32_t thread);

  std::uint32_t threads_;
  std::barrier<> start_;
  std::barrier<> done_;
  const Job* job_ = nullptr;  // written before start_, read after it
  bool stop_ = false;
  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::vector<std::thread> workers_;
};

}  // namespace mhr
