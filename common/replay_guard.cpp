#include "common/replay_guard.hpp"

namespace mhr {

ReplayGuard::Verdict ReplayGuard::admit(const Credential& c, TimeUs now_us) {
  if (c.time_us < now_us - kCredentialWindowUs || c.time_us > now_us + kCredentialWindowUs)
    return Verdict::kStale;
  forget_older_than(now_us - kCredentialWindowUs);
  Seen key{c.key, c.nonce};
  if (seen_.contains(key)) return Verdict::kReplayed;
  if (seen_.size() >= kMaxRemembered) return Verdict::kBusy;
  seen_.insert(key);
  by_time_.emplace(c.time_us, key);
  MHR_ASSERT(seen_.size() == by_time_.size());
  return Verdict::kFresh;
}

// A credential older than the window is refused as stale anyway.
void ReplayGuard::forget_older_than(TimeUs cutoff_us) {
  while (!by_time_.empty() && by_time_.begin()->first < cutoff_us) {
    seen_.erase(by_time_.begin()->second);
    by_time_.erase(by_time_.begin());
  }
}

std::string_view replay_verdict_text(ReplayGuard::Verdict v) {
  switch (v) {
    case ReplayGuard::Verdict::kFresh:
      return "fresh";
    case ReplayGuard::Verdict::kStale:
      return "the request's time is too far from the node's clock";
    case ReplayGuard::Verdict::kReplayed:
      return "the request was already seen (replayed)";
    case ReplayGuard::Verdict::kBusy:
      return "too many recent requests; try again";
  }
  return "unknown";
}

}  // namespace mhr
