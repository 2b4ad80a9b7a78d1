// ReplayWindow: refuses node messages the runtime has taken before. Every
// node message carries its sender's nonce, a microsecond timestamp that only
// rises; one outside the window around the receiver's clock is stale, one
// seen from the same sender already is replayed. Remembers at most
// kMaxRemembered nonces per sender; past that, the oldest make way and the
// window's floor rises with them. A restart forgets: a message replayed
// right after it, within the window, is the one gap.
#pragma once

#include <cstdint>
#include <memory_resource>
#include <set>
#include <unordered_map>

#include "common/record_pool.hpp"
#include "common/types.hpp"

namespace mhr {

class ReplayWindow {
 public:
  enum class Verdict : std::uint8_t { kFresh, kReplayed, kStale };
  static constexpr TimeUs kWindowUs = 120 * kUsPerSecond;
  static constexpr std::size_t kMaxRemembered = 16'384;

  Verdict admit(NodeId from, std::uint64_t nonce, TimeUs now_us);

 private:
  struct Sender {
    std::pmr::set<std::uint64_t> seen{record_state_pool()};  // a nonce per frame: pooled
    std::uint64_t floor = 0;                                 // nonces at or below were forgotten
  };
  std::unordered_map<NodeId, Sender> senders_;
};

// The nonce to send next: the clock in microseconds, or one more than the
// last when the clock has not moved on.
class NonceClock {
 public:
  std::uint64_t next(TimeUs now_us);

 private:
  std::uint64_t last_ = 0;
};

}  // namespace mhr
