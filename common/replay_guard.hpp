// Refuses replays of signed client requests: a credential is accepted only
// within kCredentialWindowUs of the node's clock and only once. Remembers
// at most kMaxRemembered credentials; past that, new ones wait (kBusy).
#pragma once

#include <map>
#include <set>
#include <utility>

#include "common/identity.hpp"

namespace mhr {

class ReplayGuard {
 public:
  enum class Verdict : std::uint8_t { kFresh, kStale, kReplayed, kBusy };
  static constexpr std::size_t kMaxRemembered = 1'000'000;

  Verdict admit(const Credential& c, TimeUs now_us);

 private:
  using Seen = std::pair<PublicKey, std::uint64_t>;
  void forget_older_than(TimeUs cutoff_us);

  std::set<Seen> seen_;
  std::multimap<TimeUs, Seen> by_time_;
};

std::string_view replay_verdict_text(ReplayGuard::Verdict v);

}  // namespace mhr
