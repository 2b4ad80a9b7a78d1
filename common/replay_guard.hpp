// Refuses replays of signed client requests: a credential is accepted only
// within kCredentialWindowUs of the node's clock and only once. Remembers
// at most kMaxRemembered credentials; past that, new ones wait (kBusy).
#pragma once

#include <map>
#include <memory_resource>
#include <set>
#include <utility>

#include "common/identity.hpp"
#include "common/record_pool.hpp"

namespace mhr {

class ReplayGuard {
 public:
  enum class Verdict : std::uint8_t { kFresh, kStale, kReplayed, kBusy };
  static constexpr std::size_t kMaxRemembered = 1'000'000;

  Verdict admit(const Credential& c, TimeUs now_us);

 private:
  using Seen = std::pair<PublicKey, std::uint64_t>;
  void forget_older_than(TimeUs cutoff_us);

  // From the record-state pool: one request remembered as another is
  // forgotten takes the forgotten one's nodes, no allocation.
  std::pmr::set<Seen> seen_{record_state_pool()};
  std::pmr::multimap<TimeUs, Seen> by_time_{record_state_pool()};
};

std::string_view replay_verdict_text(ReplayGuard::Verdict v);

}  // namespace mhr
