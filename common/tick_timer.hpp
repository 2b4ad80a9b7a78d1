// One armed timer per role for all its retries: armed only while something
// waits, so idle nodes in a large simulation cost no events; deadlines are
// rounded up to a quantum, so a node with thousands of retries in flight
// wakes a bounded number of times per second.
#pragma once

#include "common/env.hpp"

namespace mhr {

class TickTimer {
 public:
  explicit TickTimer(std::uint64_t tag, TimeUs quantum_us = 0)
      : tag_(tag), quantum_us_(quantum_us) {}
  // Makes sure the timer fires no later than `at_us` (rounded up to the quantum).
  void want(Env& env, TimeUs at_us) {
    if (quantum_us_ > 0) at_us = (at_us + quantum_us_ - 1) / quantum_us_ * quantum_us_;
    if (armed_ && at_ <= at_us) return;
    if (armed_) env.cancel_timer(id_);
    at_ = at_us;
    id_ = env.set_timer(std::max<TimeUs>(0, at_us - env.now_us()), tag_);
    armed_ = true;
  }
  // Call when the timer fired; returns false for a stale (cancelled) id.
  bool fired(TimerId id) {
    if (!armed_ || id != id_) return false;
    armed_ = false;
    return true;
  }

 private:
  std::uint64_t tag_;
  TimeUs quantum_us_;
  TimerId id_ = 0;
  TimeUs at_ = 0;
  bool armed_ = false;
};

}  // namespace mhr
