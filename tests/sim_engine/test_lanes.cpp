// SimWorld lanes: a world split by network into event loops run side by side.
// The run depends on the lanes, never on the threads; messages between lanes
// keep their latency; actions from outside run when every lane has reached
// their time; a crash still drops what was sent to the old life.
#include <doctest/doctest.h>

#include <cstring>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "common/signer.hpp"
#include "common/sim/world.hpp"
#include "tests/sim_engine/world_fixtures.hpp"

namespace mhr {
namespace {

using world_test::add;
using world_test::constant_net;
using world_test::Trace;

// Every period, a query to a random node (any network); a query is answered
// with a flag; everything received is written to the store.
class Pinger final : public NodeLogic {
 public:
  Pinger(Env& env, std::uint32_t nodes, TimeUs period_us, std::vector<TimeUs>* received)
      : env_(env), nodes_(nodes), period_us_(period_us), received_(received) {}
  std::string work_in_flight() const override { return {}; }
  void start() override { env_.set_timer(period_us_, 1); }
  void on_message(NodeId from, const Message& m) override {
    if (received_) received_->push_back(env_.now_us());
    WriteBatch b;
    b.put(Table::kMeta, as_bytes("last"), as_bytes(std::to_string(from.value)));
    env_.store().write(b);
    if (const auto* q = std::get_if<PresenceQuery>(&m))
      env_.send(from, make_message(PresenceFlag{q->user, q->record_hash, true}));
  }
  void on_timer(TimerId, std::uint64_t) override {
    if (nodes_ > 1) {
      std::uint32_t peer = static_cast<std::uint32_t>(env_.random_u64() % nodes_);
      if (peer == env_.self().value) peer = (peer + 1) % nodes_;
      PresenceQuery q;
      q.user.bytes[0] = static_cast<std::uint8_t>(env_.random_u64());
      env_.send(NodeId{peer}, make_message(q));
    }
    env_.set_timer(period_us_, 1);
  }
  void on_client(ClientRequestId id, const ClientRequest&) override {
    env_.reply(id, ClientReply{});
  }

 private:
  Env& env_;
  std::uint32_t nodes_;
  TimeUs period_us_;
  std::vector<TimeUs>* received_;
};

SimWorld::LogicFactory pinger(std::uint32_t nodes, TimeUs period_us,
                              std::vector<TimeUs>* received = nullptr) {
  return [=](Env& env) { return std::make_unique<Pinger>(env, nodes, period_us, received); };
}

struct LaneRun {
  std::vector<Trace> by_lane;  // deliveries, each lane in its own order
  SimStats stats;
  std::uint64_t events = 0;
  std::vector<SecondStats> per_second;
};

// Four networks of five nodes, lossy and duplicating links, a crash.
LaneRun lossy_run(std::uint32_t lanes, std::uint32_t threads, std::uint64_t seed = 9) {
  NetworkModel net;
  net.intra = LinkClass{LatencyDist::lognormal(500, 0.5), 125e6, 0.05, 0.02};
  net.inter = LinkClass{LatencyDist::lognormal(20'000, 0.4, 4'000), 12.5e6, 0.05, 0.02};
  SimWorld w(seed, net, CpuModel{});
  w.set_lanes(lanes, threads);
  constexpr std::uint32_t kNodes = 20;
  for (std::uint32_t i = 0; i < kNodes; ++i) add(w, i / 5, pinger(kNodes, 2'000));
  w.schedule_crash(NodeId{7}, 300'000, 450'000);
  LaneRun run;
  run.by_lane.resize(lanes);
  // Each lane appends to its own trace only: no two threads share one.
  w.on_deliver = [&](TimeUs t, NodeId from, NodeId to, const Message& m) {
    run.by_lane[w.lane_of(to)].emplace_back(t, from.value, to.value, m.index());
  };
  w.start_all();
  w.run_until(kUsPerSecond / 2);
  w.run_until(kUsPerSecond);  // two calls: a run resumes where it stopped
  run.stats = w.stats();
  run.events = w.events_processed();
  run.per_second = w.per_second();
  return run;
}

bool same_stats(const SimStats& a, const SimStats& b) {
  return a.messages_total == b.messages_total && a.messages_inter == b.messages_inter &&
         a.bytes_sent == b.bytes_sent && a.messages_dropped == b.messages_dropped &&
         a.dropped_loss == b.dropped_loss && a.dropped_down == b.dropped_down &&
         a.messages_duplicated == b.messages_duplicated &&
         a.messages_delivered == b.messages_delivered && a.timers_fired == b.timers_fired &&
         a.crashes == b.crashes && a.restarts == b.restarts;
}

TEST_CASE("lanes: a run depends on its lanes, never on the threads that run them") {
  const LaneRun one_thread = lossy_run(4, 1);
  const LaneRun two_threads = lossy_run(4, 2);
  const LaneRun four_threads = lossy_run(4, 4);
  REQUIRE(one_thread.by_lane.size() == 4);
  for (const Trace& t : one_thread.by_lane) CHECK(t.size() > 1'000);
  CHECK(one_thread.by_lane == two_threads.by_lane);
  CHECK(one_thread.by_lane == four_threads.by_lane);
  CHECK(same_stats(one_thread.stats, two_threads.stats));
  CHECK(same_stats(one_thread.stats, four_threads.stats));
  CHECK(one_thread.events == two_threads.events);
  CHECK(one_thread.per_second.size() == two_threads.per_second.size());
  // Everything the model does happened, across lanes too.
  CHECK(one_thread.stats.messages_inter > 1'000);
  CHECK(one_thread.stats.dropped_loss > 0);
  CHECK(one_thread.stats.messages_duplicated > 0);
  CHECK(one_thread.stats.dropped_down > 0);
  CHECK(one_thread.stats.crashes == 1);
  CHECK(one_thread.stats.restarts == 1);
  // Another seed, another run; another number of lanes, other random streams.
  CHECK(lossy_run(4, 2, 10).by_lane != two_threads.by_lane);
  const LaneRun two_lanes = lossy_run(2, 2);
  CHECK(two_lanes.stats.messages_total != two_threads.stats.messages_total);
}

TEST_CASE("lanes: a message between lanes arrives after its latency, as within a lane") {
  SimWorld w(1, constant_net(300, 5'000), CpuModel::disabled());
  w.set_lanes(2, 2);
  std::vector<TimeUs> at_a, at_b, at_c;
  const NodeId a = add(w, 0, pinger(0, kUsPerSecond, &at_a));
  const NodeId b = add(w, 1, pinger(0, kUsPerSecond, &at_b));
  const NodeId c = add(w, 0, pinger(0, kUsPerSecond, &at_c));
  CHECK(w.lane_count() == 2);
  CHECK(w.thread_count() == 2);
  CHECK(w.lane_of(a) == 0);
  CHECK(w.lane_of(b) == 1);
  CHECK(w.lane_of(c) == 0);
  w.start_all();
  PresenceQuery q;
  w.at(1'000, [&] {
    w.env_of(a).send(b, make_message(q));
    w.env_of(a).send(c, make_message(q));
  });
  w.run_until(20'000);
  // a -> b across lanes: 1,000 + 5,000; b's flag back: + 5,000.
  REQUIRE(at_b.size() == 1);
  CHECK(at_b[0] == 6'000);
  // a -> c within lane 0: 1,000 + 300; c's flag back: + 300.
  REQUIRE(at_c.size() == 1);
  CHECK(at_c[0] == 1'300);
  REQUIRE(at_a.size() == 2);
  CHECK(at_a[0] == 1'600);
  CHECK(at_a[1] == 11'000);
  CHECK(w.now() == 20'000);
  CHECK(w.stats().messages_inter == 2);
  CHECK(w.stats().messages_intra == 2);
}

TEST_CASE("lanes: an action from outside runs when every lane has reached its time") {
  NetworkModel net;
  net.intra = LinkClass{LatencyDist::lognormal(400, 0.3), 0, 0, 0};
  net.inter = LinkClass{LatencyDist::uniform(3'000, 9'000), 0, 0, 0};
  SimWorld w(3, net, CpuModel{});
  w.set_lanes(3, 2);
  constexpr std::uint32_t kNodes = 9;
  std::vector<std::vector<TimeUs>> received(kNodes);
  for (std::uint32_t i = 0; i < kNodes; ++i) add(w, i % 3, pinger(kNodes, 1'000, &received[i]));
  w.start_all();
  constexpr TimeUs kAt = 250'777;
  std::vector<std::size_t> before_at(kNodes);
  TimeUs now_in_action = 0;
  bool replied = false;
  TimeUs replied_at = 0;
  w.at(kAt, [&] {
    now_in_action = w.now();
    for (std::uint32_t i = 0; i < kNodes; ++i) before_at[i] = received[i].size();
    // A client request into a lane from outside: it runs at the action's time.
    w.submit(NodeId{4}, ClientRequest{}, [&](const ClientReply&) {
      replied = true;
      replied_at = w.now();
    });
  });
  w.run_until(kUsPerSecond);
  CHECK(now_in_action == kAt);
  CHECK(replied);
  CHECK(replied_at >= kAt);
  for (std::uint32_t i = 0; i < kNodes; ++i) {
    CAPTURE(i);
    // Every delivery before the action's time had run when it ran, and none after.
    std::size_t earlier = 0;
    for (TimeUs t : received[i]) earlier += t < kAt ? 1 : 0;
    CHECK(earlier == before_at[i]);
    CHECK(before_at[i] > 100);
    CHECK(received[i].size() > before_at[i]);
  }
}

TEST_CASE("lanes: a crash drops what was sent to the old life across lanes") {
  SimWorld w(1, constant_net(100, 10'000), CpuModel::disabled());
  w.set_lanes(2, 2);
  std::vector<TimeUs> at_b;
  const NodeId a = add(w, 0, pinger(0, kUsPerSecond));
  const NodeId b = add(w, 1, pinger(0, kUsPerSecond, &at_b));
  w.schedule_crash(b, 50'000, 55'000);
  w.start_all();
  PresenceQuery q;
  // Sent at 40 ms, due at 50 ms: b crashes at 50 ms first (scheduled earlier).
  w.at(40'000, [&] { w.env_of(a).send(b, make_message(q)); });
  // Sent at 30 ms, due at 40 ms, before the crash: delivered.
  w.at(30'000, [&] { w.env_of(a).send(b, make_message(q)); });
  // Sent at 60 ms to the restarted b: delivered at 70 ms.
  w.at(60'000, [&] { w.env_of(a).send(b, make_message(q)); });
  w.run_until(100'000);
  CHECK(at_b == std::vector<TimeUs>{40'000, 70'000});
  CHECK(w.stats().dropped_down == 1);
}

// Throws from its timer once the simulated time passes `at_us`.
class Thrower final : public NodeLogic {
 public:
  Thrower(Env& env, TimeUs at_us) : env_(env), at_us_(at_us) {}
  std::string work_in_flight() const override { return {}; }
  void start() override { env_.set_timer(1'000, 1); }
  void on_message(NodeId, const Message&) override {}
  void on_timer(TimerId, std::uint64_t) override {
    if (env_.now_us() >= at_us_) throw std::runtime_error("a handler failed");
    env_.set_timer(1'000, 1);
  }
  void on_client(ClientRequestId, const ClientRequest&) override {}

 private:
  Env& env_;
  TimeUs at_us_;
};

TEST_CASE("lanes: a handler that throws on one thread stops the run, not hangs it") {
  for (std::uint32_t threads : {1u, 2u}) {
    CAPTURE(threads);
    SimWorld w(5, constant_net(200, 5'000), CpuModel{});
    w.set_lanes(2, threads);
    for (std::uint32_t i = 0; i < 4; ++i) add(w, i % 2, pinger(4, 1'000));
    add(w, 1, [](Env& env) { return std::make_unique<Thrower>(env, 300'000); });
    w.start_all();
    CHECK_THROWS_WITH_AS(w.run_until(kUsPerSecond), "a handler failed", std::runtime_error);
  }
}

}  // namespace
}  // namespace mhr
