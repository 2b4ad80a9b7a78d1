// Refuses replays of signed client requests: a credential is accepted only
// within kCredentialWindowUs of the node's clock and only once. Remembers
// at most kMaxRemembered credentials; past that, new ones wait (kBusy).
#pragma once

#include <absl/container/btree_map.h>
#include <absl/container/btree_set.h>

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

  // B-trees: a node holds many entries, so remembering one more request
  // seldom allocates (a std::set node each did).
  absl::btree_set<Seen> seen_;
  absl::btree_multimap<TimeUs, Seen> by_time_;
};

std::string_view replay_verdict_text(ReplayGuard::Verdict v);

}  // namespace mhr
