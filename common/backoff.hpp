// Retry timing shared by every role: exponential back-off from the first
// retry time-out up to a ceiling, with a bounded number of attempts.
#pragma once

#include <algorithm>

#include "common/topology.hpp"

namespace mhr {

// Delay before attempt `attempt` (1 = first retry) is sent again.
inline TimeUs backoff_us(const ProtocolParams& p, std::uint32_t attempt) {
  TimeUs d = p.retry_timeout_us;
  for (std::uint32_t i = 1; i < attempt && d < p.retry_max_backoff_us; ++i) d *= 2;
  return std::min(d, p.retry_max_backoff_us);
}

// Granularity of retry ticks: fine enough for presence time-outs, coarse
// enough that a busy node wakes at most 100 times a second for retries.
inline constexpr TimeUs kRetryTickQuantumUs = 10 * kUsPerMs;

// Timer tags carry a kind in the top byte and an identifier below it.
inline std::uint64_t timer_tag(std::uint8_t kind, std::uint64_t id) {
  return std::uint64_t{kind} << 56 | (id & ((std::uint64_t{1} << 56) - 1));
}
inline std::uint8_t timer_kind(std::uint64_t tag) {
  return static_cast<std::uint8_t>(tag >> 56);
}
inline std::uint64_t timer_id(std::uint64_t tag) {
  return tag & ((std::uint64_t{1} << 56) - 1);
}

}  // namespace mhr
