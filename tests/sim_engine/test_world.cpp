// SimWorld: determinism, network model (latency, bandwidth, loss,
// duplication, partitions), crashes and restarts, the CPU model, timers,
// clients, and a throughput measurement. The nodes run a toy NodeLogic that
// exchanges real messages (PresenceQuery / PresenceFlag).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
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

// What the toy logic does.
struct ToyConfig {
  bool echo = false;          // answer a PresenceQuery with a PresenceFlag
  bool forward_ring = false;  // pass every message on to (self + 1) % ring
  std::uint32_t ring = 0;
  TimeUs ping_period_us = 0;      // every period, query a random peer
  std::uint32_t peers = 0;        // peers are 0..peers-1
  bool sign_before_echo = false;  // sign something before answering
  bool verify_too = false;        // and verify that signature
  bool write_store_on_message = false;
  bool hold_client = false;   // never answer client requests
  TimeUs start_timer_us = 0;  // a one-shot timer set by start() (tag 7)
  bool timer_suite = false;   // start() sets several timers, cancels one
};

// What the test observes; outside the logic so it survives crashes.
struct Probe {
  int starts = 0;
  std::vector<std::pair<TimeUs, std::uint64_t>> timer_fires;  // (now, tag)
  std::vector<TimeUs> message_now;                            // now_us() at handler start
  std::vector<TimeUs> after_sign_now;                         // now_us() after signing
  std::vector<std::pair<TimeUs, bool>> verified;              // (now_us() after, result)
  std::vector<TimerId> timer_ids;
  std::vector<ClientRequestId> held_clients;
};

constexpr std::uint64_t kPingTag = 1'000;
constexpr std::uint64_t kStartTag = 7;
const Bytes kBootsKey{'b', 'o', 'o', 't', 's'};

MessagePtr query(std::uint8_t b = 1) {
  PresenceQuery q;
  q.user.bytes[0] = b;
  return make_message(q);
}

class ToyLogic final : public NodeLogic {
 public:
  ToyLogic(Env& env, Probe* probe, ToyConfig cfg) : env_(env), probe_(probe), cfg_(cfg) {}
  std::string work_in_flight() const override { return {}; }

  void start() override {
    if (probe_) ++probe_->starts;
    std::uint64_t boots = 0;
    if (auto v = env_.store().get(Table::kMeta, kBootsKey)) std::memcpy(&boots, v->data(), 8);
    ++boots;
    Bytes value(8);
    std::memcpy(value.data(), &boots, 8);
    WriteBatch b;
    b.put(Table::kMeta, kBootsKey, value);
    env_.store().write(b);
    if (cfg_.ping_period_us > 0) env_.set_timer(cfg_.ping_period_us, kPingTag);
    if (cfg_.start_timer_us > 0) env_.set_timer(cfg_.start_timer_us, kStartTag);
    if (cfg_.forward_ring) env_.send(NodeId{(env_.self().value + 1) % cfg_.ring}, query());
    if (cfg_.timer_suite) {
      auto& ids = probe_->timer_ids;
      ids.push_back(env_.set_timer(300, 3));
      ids.push_back(env_.set_timer(100, 1));
      ids.push_back(env_.set_timer(200, 2));
      ids.push_back(env_.set_timer(100, 11));
      ids.push_back(env_.set_timer(0, 0));
      env_.cancel_timer(ids[2]);
      env_.cancel_timer(ids[2]);           // twice: harmless
      env_.cancel_timer(0xDEADBEEF00ull);  // unknown: harmless
    }
  }

  void on_message(NodeId from, const Message& message) override {
    if (probe_) probe_->message_now.push_back(env_.now_us());
    if (cfg_.write_store_on_message) {
      WriteBatch b;
      b.put(Table::kMeta, as_bytes("k"), as_bytes("v"));
      env_.store().write(b);
    }
    if (cfg_.forward_ring) {
      env_.send(NodeId{(env_.self().value + 1) % cfg_.ring}, query());
      return;
    }
    if (cfg_.echo) {
      if (const auto* q = std::get_if<PresenceQuery>(&message)) {
        if (cfg_.sign_before_echo) {
          const Signature sig = env_.signer().sign(as_bytes("x"));
          if (probe_) probe_->after_sign_now.push_back(env_.now_us());
          if (cfg_.verify_too) {
            const bool ok = env_.verifier().verify(env_.signer().public_key(), as_bytes("x"), sig);
            if (probe_) probe_->verified.emplace_back(env_.now_us(), ok);
          }
        }
        env_.send(from, make_message(PresenceFlag{q->user, q->record_hash, true}));
      }
    }
  }

  void on_timer(TimerId, std::uint64_t tag) override {
    if (probe_) probe_->timer_fires.emplace_back(env_.now_us(), tag);
    if (tag == kPingTag) {
      std::uint32_t peer = static_cast<std::uint32_t>(env_.random_u64() % cfg_.peers);
      if (peer == env_.self().value) peer = (peer + 1) % cfg_.peers;
      env_.send(NodeId{peer}, query(static_cast<std::uint8_t>(env_.random_u64())));
      env_.set_timer(cfg_.ping_period_us, kPingTag);
    }
  }

  void on_client(ClientRequestId id, const ClientRequest&) override {
    if (cfg_.hold_client) {
      if (probe_) probe_->held_clients.push_back(id);
      return;
    }
    ClientReply r;
    r.detail = "hello from " + std::to_string(env_.self().value);
    env_.reply(id, r);
  }

 private:
  Env& env_;
  Probe* probe_;
  ToyConfig cfg_;
};

SimWorld::LogicFactory toy(Probe* probe, ToyConfig cfg = {}) {
  return [probe, cfg](Env& env) { return std::make_unique<ToyLogic>(env, probe, cfg); };
}

void record_deliveries(SimWorld& w, Trace& trace) {
  w.on_deliver = [&trace](TimeUs t, NodeId from, NodeId to, const Message& m) {
    trace.emplace_back(t, from.value, to.value, m.index());
  };
}

std::uint64_t boots(SimWorld& w, NodeId n) {
  auto v = w.store_of(n).get(Table::kMeta, kBootsKey);
  if (!v) return 0;
  std::uint64_t b = 0;
  std::memcpy(&b, v->data(), 8);
  return b;
}

// A lossy, duplicating, randomly delayed network of pinging, echoing nodes.
Trace random_run(std::uint64_t seed, SimStats* stats_out = nullptr) {
  NetworkModel net;
  net.intra = LinkClass{LatencyDist::lognormal(500, 0.5), 125e6, 0.1, 0.05};
  net.inter = LinkClass{LatencyDist::uniform(5'000, 30'000), 12.5e6, 0.05, 0.05};
  SimWorld w(seed, net, CpuModel{});
  ToyConfig cfg;
  cfg.echo = true;
  cfg.ping_period_us = 1'000;
  cfg.peers = 6;
  cfg.sign_before_echo = true;
  for (std::uint32_t i = 0; i < 6; ++i) add(w, i % 2, toy(nullptr, cfg));
  w.schedule_crash(NodeId{3}, 200'000, 300'000);
  Trace trace;
  record_deliveries(w, trace);
  w.start_all();
  w.run_until(kUsPerSecond);
  if (stats_out) *stats_out = w.stats();
  return trace;
}

TEST_CASE("determinism: the same seed gives the same trace and another seed another trace") {
  SimStats s1, s2;
  const Trace a = random_run(42, &s1);
  const Trace b = random_run(42, &s2);
  const Trace c = random_run(43);
  CHECK(a.size() > 5'000);
  CHECK(a == b);
  CHECK(s1.messages_total == s2.messages_total);
  CHECK(s1.messages_dropped == s2.messages_dropped);
  CHECK(s1.bytes_sent == s2.bytes_sent);
  CHECK(a != c);
  CHECK(s1.dropped_loss > 0);
  CHECK(s1.messages_duplicated > 0);
  CHECK(s1.dropped_down > 0);
  CHECK(s1.messages_intra + s1.messages_inter == s1.messages_total);
}

TEST_CASE("constant latency delivers at exactly send time plus the link class latency") {
  SimWorld w(1, constant_net(1'000, 5'000), CpuModel::disabled());
  Probe p;
  const NodeId a = add(w, 0, toy(&p));
  const NodeId b = add(w, 0, toy(&p));
  const NodeId c = add(w, 1, toy(&p));
  Trace trace;
  record_deliveries(w, trace);
  w.start_all();
  w.at(0, [&] {
    w.env_of(a).send(b, query());
    w.env_of(a).send(c, query());
  });
  w.at(2'500, [&] { w.env_of(c).send(a, query()); });
  w.at(2'600, [&] { w.env_of(a).send(a, query()); });  // loopback: same time
  w.run_until(10'000);
  const std::size_t q = Message(PresenceQuery{}).index();
  REQUIRE(trace.size() == 4);
  CHECK(trace[0] == std::tuple{TimeUs{1'000}, 0u, 1u, q});
  CHECK(trace[1] == std::tuple{TimeUs{2'600}, 0u, 0u, q});
  CHECK(trace[2] == std::tuple{TimeUs{5'000}, 0u, 2u, q});
  CHECK(trace[3] == std::tuple{TimeUs{7'500}, 2u, 0u, q});
  CHECK(w.stats().messages_intra == 2);
  CHECK(w.stats().messages_inter == 2);
  CHECK(w.stats().messages_by_type[q] == 4);
  CHECK(w.now() == 10'000);
}

TEST_CASE("bandwidth serialises back-to-back large messages on the sender's uplink") {
  NetworkModel net = constant_net(100, 100);
  net.intra.bandwidth_bytes_per_s = 10e6;  // 10 MB/s
  SimWorld w(1, net, CpuModel::disabled());
  const NodeId a = add(w, 0, toy(nullptr));
  const NodeId b = add(w, 0, toy(nullptr));
  const NodeId c = add(w, 0, toy(nullptr));

  Record r;
  r.payload = SharedBytes(Bytes(200'000, 0xAB));
  BlockDelivery bd;
  bd.entries.push_back(ProvenEntry{Entry{r}, MerkleProof{}});
  const MessagePtr big = make_message(std::move(bd));
  const std::size_t size = encoded_size(*big);
  CHECK(size > 200'000);
  const TimeUs ser = net.intra.serialisation_us(size);
  CHECK(ser >= 20'000);

  Trace trace;
  record_deliveries(w, trace);
  w.start_all();
  w.at(1'000, [&] {
    w.env_of(a).send(b, big);
    w.env_of(a).send(c, big);
    w.env_of(a).send(b, big);
    w.env_of(b).send(c, query());  // b's uplink is idle: not delayed by a's
  });
  w.run_until(kUsPerSecond);
  REQUIRE(trace.size() == 4);
  CHECK(std::get<0>(trace[0]) == 1'000 + net.intra.serialisation_us(encoded_size(*query())) + 100);
  CHECK(std::get<0>(trace[1]) == 1'000 + ser + 100);
  CHECK(std::get<0>(trace[2]) == 1'000 + 2 * ser + 100);
  CHECK(std::get<0>(trace[3]) == 1'000 + 3 * ser + 100);
  CHECK(w.stats().bytes_sent == 3 * size + encoded_size(*query()));
  const std::size_t bdi = Message(BlockDelivery{}).index();
  CHECK(w.stats().bytes_by_type[bdi] == 3 * size);
}

TEST_CASE("loss 1 drops everything and loss 0.3 drops about 30 percent") {
  for (double loss : {1.0, 0.3}) {
    NetworkModel net = constant_net(100, 100);
    net.intra.loss = loss;
    SimWorld w(7, net, CpuModel::disabled());
    const NodeId a = add(w, 0, toy(nullptr));
    const NodeId b = add(w, 0, toy(nullptr));
    w.start_all();
    constexpr int kN = 20'000;
    w.at(0, [&] {
      for (int i = 0; i < kN; ++i) w.env_of(a).send(b, query());
    });
    w.run_until(kUsPerSecond);
    const auto& s = w.stats();
    CHECK(s.messages_total == kN);
    CHECK(s.messages_delivered + s.messages_dropped == kN);
    CHECK(s.dropped_loss == s.messages_dropped);
    if (loss == 1.0) {
      CHECK(s.messages_delivered == 0);
    } else {
      const double dropped = static_cast<double>(s.messages_dropped) / kN;
      MESSAGE("loss 0.3: dropped fraction " << dropped);
      CHECK(dropped > 0.28);
      CHECK(dropped < 0.32);
    }
  }
}

TEST_CASE("duplicate = 1 delivers every message twice") {
  NetworkModel net;
  net.intra = LinkClass{LatencyDist::uniform(100, 900), 0, 0, 1.0};
  SimWorld w(3, net, CpuModel::disabled());
  const NodeId a = add(w, 0, toy(nullptr));
  const NodeId b = add(w, 0, toy(nullptr));
  w.start_all();
  w.at(0, [&] {
    for (int i = 0; i < 100; ++i) w.env_of(a).send(b, query());
  });
  w.run_until(kUsPerSecond);
  CHECK(w.stats().messages_total == 100);
  CHECK(w.stats().messages_duplicated == 100);
  CHECK(w.stats().messages_delivered == 200);
}

TEST_CASE("a partition blocks messages between its groups, only while it lasts") {
  SimWorld w(1, constant_net(200, 200), CpuModel::disabled());
  const NodeId n0 = add(w, 0, toy(nullptr));
  const NodeId n1 = add(w, 0, toy(nullptr));
  const NodeId n2 = add(w, 0, toy(nullptr));  // in no group: unaffected
  w.add_partition(Partition{1'000, 2'000, {{n0}, {n1}}});
  Trace trace;
  record_deliveries(w, trace);
  w.start_all();
  auto send_all = [&] {
    w.env_of(n0).send(n1, query());
    w.env_of(n0).send(n2, query());
    w.env_of(n1).send(n0, query());
  };
  w.at(500, send_all);    // before: all arrive at 700
  w.at(900, send_all);    // in flight when it starts: 0<->1 dropped at 1100
  w.at(1'500, send_all);  // during: 0<->1 dropped at send
  w.at(1'900, send_all);  // sent during, arrives after: dropped at send
  w.at(2'000, send_all);  // healed (end is exclusive)
  w.run_until(10'000);
  Trace expected;
  const std::size_t q = Message(PresenceQuery{}).index();
  for (TimeUs t : {500, 900, 1'500, 1'900, 2'000}) {
    const bool blocked = t != 500 && t != 2'000;
    if (!blocked) expected.emplace_back(t + 200, 0u, 1u, q);
    expected.emplace_back(t + 200, 0u, 2u, q);
    if (!blocked) expected.emplace_back(t + 200, 1u, 0u, q);
  }
  CHECK(trace == expected);
  CHECK(w.stats().dropped_partition == 6);
  CHECK(w.stats().messages_total == 15);
}

TEST_CASE(
    "crash drops timers and in-flight messages and fails pending clients and restart rebuilds") {
  SimWorld w(1, constant_net(200, 1'700), CpuModel::disabled());
  Probe p0;
  ToyConfig cfg0;
  cfg0.start_timer_us = 1'000;
  cfg0.hold_client = true;
  const NodeId n0 = add(w, 0, toy(&p0, cfg0));
  const NodeId n1 = add(w, 0, toy(nullptr));
  const NodeId n2 = add(w, 1, toy(nullptr));
  w.schedule_crash(n0, 500, 2'000);
  Trace trace;
  record_deliveries(w, trace);
  w.start_all();

  std::vector<std::pair<TimeUs, ClientReply>> replies;
  auto on_reply = [&](const ClientReply& r) { replies.emplace_back(w.now(), r); };
  w.at(100, [&] { w.submit(n0, ReadUserRequest{}, on_reply); });  // held, then crash
  w.at(400, [&] { w.env_of(n1).send(n0, query()); });             // arrives at 600: down
  w.at(450, [&] { w.env_of(n2).send(n0, query()); });             // arrives at 2150: old life
  w.at(1'000, [&] {
    CHECK_FALSE(w.is_up(n0));
    CHECK(w.logic_of(n0) == nullptr);
    const std::size_t before = replies.size();
    w.submit(n0, ReadUserRequest{}, on_reply);
    CHECK(replies.size() == before + 1);  // at once
  });
  w.at(2'100, [&] { w.env_of(n1).send(n0, query()); });  // arrives at 2300: delivered
  w.run_until(10'000);

  CHECK(w.is_up(n0));
  CHECK(w.logic_of(n0) != nullptr);
  CHECK(p0.starts == 2);
  CHECK(boots(w, n0) == 2);  // the store survived the crash
  // The first life's timer (due at 1000) never fired; the second life's did.
  REQUIRE(p0.timer_fires.size() == 1);
  CHECK(p0.timer_fires[0] == std::pair<TimeUs, std::uint64_t>{3'000, kStartTag});
  REQUIRE(trace.size() == 1);
  CHECK(std::get<0>(trace[0]) == 2'300);
  CHECK(w.stats().dropped_down == 2);
  CHECK(w.stats().crashes == 1);
  CHECK(w.stats().restarts == 1);

  REQUIRE(replies.size() == 2);
  CHECK(replies[0].first == 500);
  CHECK(replies[0].second.status == ReplyStatus::kUnavailable);
  CHECK(replies[0].second.detail == "node crashed");
  CHECK(replies[1].first == 1'000);
  CHECK(replies[1].second.status == ReplyStatus::kUnavailable);
  CHECK(replies[1].second.detail == "node down");

  // The new life answering the lost request is ignored.
  REQUIRE(p0.held_clients.size() == 1);
  w.env_of(n0).reply(p0.held_clients[0], ClientReply{});
  w.run_until(20'000);
  CHECK(replies.size() == 2);
}

TEST_CASE("CPU model: a node receiving many messages at once handles them back to back") {
  CpuModel cpu;
  cpu.enabled = true;
  cpu.per_message_us = 10;
  cpu.per_byte_ns = 0;
  cpu.sign_us = 13;
  cpu.verify_us = 30;
  cpu.store_commit_us = 350;
  cpu.store_per_byte_ns = 0;
  SimWorld w(1, constant_net(100, 100), cpu);
  Probe p0;
  ToyConfig cfg;
  cfg.echo = true;
  cfg.sign_before_echo = true;
  const NodeId n0 = add(w, 0, toy(&p0, cfg));
  for (int i = 0; i < 5; ++i) add(w, 0, toy(nullptr));
  Trace trace;
  record_deliveries(w, trace);
  w.start_all();
  w.run_until(1'000);  // start(): each node commits its boot counter
  CHECK(w.busy_until(n0) == 1'000 - 1'000 + 350);
  w.at(1'000, [&] {
    for (std::uint32_t i = 1; i <= 5; ++i) w.env_of(NodeId{i}).send(n0, query());
  });
  w.run_until(10'000);
  // Queries reach node 0 at 1100 and are handled 10 + 13 us apart.
  REQUIRE(trace.size() == 10);
  for (int i = 0; i < 5; ++i) {
    CAPTURE(i);
    CHECK(std::get<0>(trace[static_cast<std::size_t>(i)]) == 1'100 + 23 * i);
    CHECK(std::get<2>(trace[static_cast<std::size_t>(i)]) == 0u);
    CHECK(p0.message_now[static_cast<std::size_t>(i)] == 1'100 + 23 * i + 10);
    CHECK(p0.after_sign_now[static_cast<std::size_t>(i)] == 1'100 + 23 * i + 23);
  }
  // Each flag leaves after the sign and arrives 100 us later; the senders'
  // handlers are idle so they start at once.
  for (std::uint32_t i = 0; i < 5; ++i) {
    CAPTURE(i);
    CHECK(std::get<0>(trace[5 + i]) == 1'100 + 23 * i + 23 + 100);
    CHECK(std::get<2>(trace[5 + i]) == i + 1);
  }
  CHECK(w.busy_until(n0) == 1'100 + 5 * 23);

  // A store commit is charged too, and the CPU is free for the next one.
  Probe p9;
  ToyConfig wcfg;
  wcfg.write_store_on_message = true;
  const NodeId n9 = add(w, 0, toy(&p9, wcfg));
  w.start_all();
  w.env_of(n9).send(n9, query());
  w.env_of(n9).send(n9, query());
  w.run_until(20'000);
  // start() at 10000 commits (350); the queries (sent at 10000) wait for it.
  REQUIRE(p9.message_now.size() == 2);
  CHECK(p9.message_now[0] == 10'000 + 350 + 10);
  CHECK(p9.message_now[1] == 10'000 + 350 + 360 + 10);
  CHECK(w.busy_until(n9) == 10'000 + 350 + 2 * 360);
}

TEST_CASE("CPU model: verify is charged and a crash empties the node queue") {
  CpuModel cpu;
  cpu.enabled = true;
  cpu.per_message_us = 100;
  cpu.per_byte_ns = 0;
  cpu.sign_us = 13;
  cpu.verify_us = 30;
  cpu.store_commit_us = 0;
  cpu.store_per_byte_ns = 0;
  SimWorld w(1, constant_net(100, 100), cpu);
  Probe p0;
  ToyConfig cfg;
  cfg.echo = true;
  cfg.sign_before_echo = true;
  cfg.verify_too = true;
  const NodeId n0 = add(w, 0, toy(&p0, cfg));
  const NodeId n1 = add(w, 0, toy(nullptr));
  w.start_all();
  w.at(0, [&] {
    for (int i = 0; i < 5; ++i) w.env_of(n1).send(n0, query());
  });
  // Handlers at 100, 243, 386, ... (100 + 13 + 30 each); crash at 300.
  w.schedule_crash(n0, 300, 1'000);
  w.at(1'000, [&] { w.env_of(n1).send(n0, query()); });
  w.run_until(10'000);
  REQUIRE(p0.verified.size() == 3);
  CHECK(p0.verified[0] == std::pair<TimeUs, bool>{100 + 143, true});
  CHECK(p0.verified[1] == std::pair<TimeUs, bool>{243 + 143, true});  // ran before the crash
  CHECK(p0.verified[2] == std::pair<TimeUs, bool>{1'100 + 143, true});
  CHECK(w.stats().dropped_down == 3);
  CHECK(w.busy_until(n0) == 1'100 + 143);
  CHECK(p0.starts == 2);
}

TEST_CASE("timers fire in order and cancelled ones do not") {
  SimWorld w(1, constant_net(100, 100), CpuModel::disabled());
  Probe p;
  ToyConfig cfg;
  cfg.timer_suite = true;
  add(w, 0, toy(&p, cfg));
  w.start_all();
  w.run_until(5'000);
  const std::vector<std::pair<TimeUs, std::uint64_t>> expected{
      {0, 0}, {100, 1}, {100, 11}, {300, 3}};
  CHECK(p.timer_fires == expected);
  REQUIRE(p.timer_ids.size() == 5);
  for (std::size_t i = 0; i < p.timer_ids.size(); ++i) {
    CHECK(p.timer_ids[i] != 0);
    for (std::size_t j = 0; j < i; ++j) CHECK(p.timer_ids[i] != p.timer_ids[j]);
  }
  CHECK(w.stats().timers_fired == 4);
  // A cancel after firing is harmless, and new ids do not repeat old ones.
  Env& env = w.env_of(NodeId{0});
  env.cancel_timer(p.timer_ids[0]);
  const TimerId again = env.set_timer(10, 99);
  for (TimerId old : p.timer_ids) CHECK(again != old);
  w.run_until(6'000);
  CHECK(p.timer_fires.back() == std::pair<TimeUs, std::uint64_t>{5'010, 99});
}

TEST_CASE("client submit and reply round trip with CPU time") {
  CpuModel cpu = CpuModel::disabled();
  for (bool enabled : {false, true}) {
    cpu.enabled = enabled;
    cpu.per_message_us = 10;
    cpu.store_commit_us = 0;
    cpu.store_per_byte_ns = 0;
    SimWorld w(1, constant_net(100, 100), cpu);
    const NodeId n = add(w, 0, toy(nullptr));
    w.start_all();
    std::vector<std::pair<TimeUs, ClientReply>> replies;
    w.at(1'000, [&] {
      w.submit(n, ReadUserRequest{},
               [&](const ClientReply& r) { replies.emplace_back(w.now(), r); });
    });
    w.run_until(5'000);
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].first == (enabled ? 1'010 : 1'000));
    CHECK(replies[0].second.status == ReplyStatus::kOk);
    CHECK(replies[0].second.detail == "hello from 0");
    CHECK(w.stats().client_requests == 1);
    CHECK(w.stats().client_replies == 1);
  }
}

TEST_CASE("stats: counters and logs and the per-second series and progress") {
  SimWorld w(1, constant_net(100, 100), CpuModel::disabled());
  const NodeId a = add(w, 0, toy(nullptr));
  const NodeId b = add(w, 0, toy(nullptr));
  std::uint64_t progress_calls = 0;
  w.set_progress([&](TimeUs, std::uint64_t) { ++progress_calls; }, 2);
  w.start_all();
  w.at(10, [&] {
    w.env_of(a).count(Counter::kRetries, 2);
    w.env_of(b).count(Counter::kRetries);
    w.env_of(b).log(LogLevel::kInfo, "dropped");
    w.env_of(b).log(LogLevel::kWarn, "kept");
  });
  w.at(1'500'000, [&] { w.env_of(a).send(b, query()); });
  w.at(2'500'000, [&] {
    w.env_of(a).send(b, query());
    w.env_of(b).send(a, query());
  });
  w.run_until(3 * kUsPerSecond);
  const auto& s = w.stats();
  const auto retries = static_cast<std::size_t>(Counter::kRetries);
  CHECK(s.counters[retries] == 3);
  CHECK(w.node_counters()[0][retries] == 2);
  CHECK(w.node_counters()[1][retries] == 1);
  REQUIRE(w.logs().size() == 1);
  CHECK(w.logs()[0].text == "kept");
  CHECK(w.logs()[0].node == b);
  CHECK(w.logs()[0].time_us == 10);
  REQUIRE(w.per_second().size() == 3);
  CHECK(w.per_second()[0].messages == 0);
  CHECK(w.per_second()[1].messages == 1);
  CHECK(w.per_second()[2].messages == 2);
  CHECK(w.per_second()[2].bytes == 2 * encoded_size(*query()));
  CHECK(w.events_processed() > 0);
  CHECK(progress_calls == w.events_processed() / 2);
}

TEST_CASE("throughput in events per wall-clock second without assertion") {
  struct Setup {
    const char* name;
    bool cpu;
    bool lognormal;
  };
  for (Setup setup : {Setup{"constant latency, no CPU model", false, false},
                      Setup{"lognormal latency, CPU model on", true, true}}) {
    NetworkModel net = constant_net(100, 100);
    if (setup.lognormal) net.intra.latency = LatencyDist::lognormal(500, 0.5);
    CpuModel cpu = setup.cpu ? CpuModel{} : CpuModel::disabled();
    cpu.store_commit_us = 0;
    SimWorld w(1, net, cpu);
    ToyConfig cfg;
    cfg.forward_ring = true;
    cfg.ring = 1'000;
    for (std::uint32_t i = 0; i < cfg.ring; ++i) add(w, 0, toy(nullptr, cfg));
    w.start_all();
    constexpr std::uint64_t kEvents = 3'000'000;
    const auto t0 = std::chrono::steady_clock::now();
    while (w.events_processed() < kEvents) w.run_until(w.now() + 10 * kUsPerMs);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double rate = static_cast<double>(w.events_processed()) / secs;
    MESSAGE(std::string(setup.name) << ": " << w.events_processed() << " events in " << secs
                                    << " s = " << static_cast<std::uint64_t>(rate) << " events/s");
    std::printf("sim throughput (%s): %.0f events/s\n", setup.name, rate);
    CHECK(w.stats().messages_delivered > 0);
  }
}

}  // namespace
}  // namespace mhr
