// ReplayWindow and NonceClock alone: which node messages the runtime takes.
#include <doctest/doctest.h>

#include "common/net/replay_window.hpp"

using namespace mhr;

namespace {

constexpr TimeUs kNow = 1'800'000'000 * kUsPerSecond;  // some time in 2027
constexpr std::uint64_t kNowNonce = kNow;
using Verdict = ReplayWindow::Verdict;

}  // namespace

TEST_CASE("replay window: a nonce is taken once per sender, in any order") {
  ReplayWindow w;
  const NodeId a{1}, b{2};
  CHECK(w.admit(a, kNowNonce, kNow) == Verdict::kFresh);
  CHECK(w.admit(a, kNowNonce, kNow) == Verdict::kReplayed);
  CHECK(w.admit(b, kNowNonce, kNow) == Verdict::kFresh);  // another sender's own nonces
  CHECK(w.admit(a, kNowNonce - 5, kNow) == Verdict::kFresh);
  CHECK(w.admit(a, kNowNonce - 5, kNow + 1'000) == Verdict::kReplayed);
}

TEST_CASE("replay window: nonces outside the window around the clock are stale") {
  ReplayWindow w;
  const NodeId a{1};
  const std::uint64_t window = ReplayWindow::kWindowUs;
  CHECK(w.admit(a, kNowNonce - window, kNow) == Verdict::kStale);
  CHECK(w.admit(a, kNowNonce - window + 1, kNow) == Verdict::kFresh);
  CHECK(w.admit(a, kNowNonce + window + 1, kNow) == Verdict::kStale);
  CHECK(w.admit(a, kNowNonce + window, kNow) == Verdict::kFresh);
  // Once the clock moved on, what was fresh is stale, not forgotten.
  CHECK(w.admit(a, kNowNonce - window + 1, kNow + 1) == Verdict::kStale);
}

TEST_CASE("replay window: past kMaxRemembered the oldest make way and turn stale") {
  ReplayWindow w;
  const NodeId a{1};
  const std::uint64_t first = kNowNonce - ReplayWindow::kMaxRemembered - 10;
  for (std::uint64_t i = 0; i <= ReplayWindow::kMaxRemembered; ++i)
    REQUIRE(w.admit(a, first + i, kNow) == Verdict::kFresh);
  CHECK(w.admit(a, first, kNow) == Verdict::kStale);         // forgotten: below the floor
  CHECK(w.admit(a, first + 1, kNow) == Verdict::kReplayed);  // still remembered
  CHECK(w.admit(a, kNowNonce, kNow) == Verdict::kFresh);
}

TEST_CASE("nonce clock: strictly rising, also when the clock stands still or goes back") {
  NonceClock c;
  const std::uint64_t n1 = c.next(kNow);
  const std::uint64_t n2 = c.next(kNow);
  const std::uint64_t n3 = c.next(kNow - kUsPerSecond);
  CHECK(n1 == kNowNonce);
  CHECK(n2 == n1 + 1);
  CHECK(n3 == n2 + 1);
  CHECK(c.next(kNow + kUsPerSecond) == kNowNonce + kUsPerSecond);
}
