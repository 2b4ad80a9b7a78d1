#include "common/net/replay_window.hpp"

#include <algorithm>

namespace mhr {

ReplayWindow::Verdict ReplayWindow::admit(NodeId from, std::uint64_t nonce, TimeUs now_us) {
  const auto now = static_cast<std::uint64_t>(std::max<TimeUs>(now_us, 0));
  const std::uint64_t window = kWindowUs;
  const std::uint64_t oldest = now > window ? now - window : 0;
  if (nonce <= oldest || nonce > now + window) return Verdict::kStale;
  Sender& s = senders_[from];
  // Forget what fell out of the window: the clock rejects it from now on.
  while (!s.seen.empty() && *s.seen.begin() <= oldest) s.seen.erase(s.seen.begin());
  if (nonce <= s.floor) return Verdict::kStale;
  if (!s.seen.insert(nonce).second) return Verdict::kReplayed;
  if (s.seen.size() > kMaxRemembered) {
    s.floor = *s.seen.begin();
    s.seen.erase(s.seen.begin());
  }
  return Verdict::kFresh;
}

std::uint64_t NonceClock::next(TimeUs now_us) {
  last_ = std::max(last_ + 1, static_cast<std::uint64_t>(std::max<TimeUs>(now_us, 0)));
  return last_;
}

}  // namespace mhr
