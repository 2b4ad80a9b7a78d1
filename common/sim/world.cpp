#include "common/sim/world.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "common/assert.hpp"
#include "common/sim/event_heap.hpp"
#include "common/sim/lane_threads.hpp"
#include "common/sim/rng.hpp"

namespace mhr {
namespace {

constexpr TimeUs kNever = std::numeric_limits<TimeUs>::max();

enum class Kind : std::uint8_t {
  kDeliver,  // node = receiver, slot = in-flight message
  kTimer,    // node = owner, slot = timer
  kClient,   // node = target, slot = client request
  kReply,    // slot = finished reply
  kAction,   // slot = driver action
  kCrash,    // node
  kRestart,  // node
  kWake,     // node: its CPU is free, run the next queued event
  kStart,    // node
};

Kind kind_of(const SimEvent& e) {
  return static_cast<Kind>(e.kind_byte());
}

TimeUs saturating_add(TimeUs a, TimeUs b) {
  return a > kNever - b ? kNever : a + b;
}

// A message from another lane cannot know its receiver's incarnation: it is
// dropped if the receiver crashed after it was sent.
constexpr std::uint32_t kFromAnotherLane = 0xFFFFFFFFu;

struct InFlight {
  MessagePtr message;
  std::uint32_t from = 0;
  std::uint32_t size = 0;
  std::uint32_t incarnation = 0;  // of the receiver when sent, or kFromAnotherLane
  TimeUs sent_at = 0;             // when the sender let it go
};

// A message to another lane's node, with the event key its sender gave it
// (so that when it is taken in does not change the receiver's order).
struct CrossMessage {
  TimeUs arrive_at = 0;
  std::uint64_t key = 0;
  std::uint32_t to = 0;
  InFlight message;
};

// Messages from one lane to another; the sender appends, the receiver takes.
struct Inbox {
  std::mutex mutex;
  std::vector<CrossMessage> items;
  std::atomic<bool> nonempty{false};  // read after the sender's clock: no lock when empty
};

struct TimerSlot {
  std::uint32_t generation = 0;  // bumped at each use; part of the TimerId
  std::uint32_t node = 0;
  std::uint32_t incarnation = 0;
  bool live = false;
  bool cancelled = false;
  std::uint64_t tag = 0;
};

struct ClientSlot {
  ClientRequestId id = 0;
  ClientRequest request;
};

struct ReplySlot {
  SimWorld::ReplyCallback callback;
  ClientReply reply;
};

struct PendingClient {
  std::uint32_t node = 0;
  SimWorld::ReplyCallback callback;
};

struct PartitionState {
  Partition partition;
  std::vector<std::int32_t> group_of;  // by node id; -1: in no group
};

std::int64_t llround_ns(double ns) {
  return static_cast<std::int64_t>(std::llround(ns));
}

}  // namespace

void SimStats::add(const SimStats& o) {
  messages_total += o.messages_total;
  messages_intra += o.messages_intra;
  messages_inter += o.messages_inter;
  bytes_sent += o.bytes_sent;
  messages_dropped += o.messages_dropped;
  dropped_loss += o.dropped_loss;
  dropped_partition += o.dropped_partition;
  dropped_down += o.dropped_down;
  messages_duplicated += o.messages_duplicated;
  messages_delivered += o.messages_delivered;
  for (std::size_t i = 0; i < kMessageTypeCount; ++i) {
    messages_by_type[i] += o.messages_by_type[i];
    bytes_by_type[i] += o.bytes_by_type[i];
  }
  for (std::size_t i = 0; i < kCounterCount; ++i) counters[i] += o.counters[i];
  timers_fired += o.timers_fired;
  client_requests += o.client_requests;
  client_replies += o.client_replies;
  crashes += o.crashes;
  restarts += o.restarts;
}

struct SimWorld::Impl {
  struct Node;
  struct Lane;

  // Charges CPU time to the node's running handler (ignored outside one, or
  // with the CPU model off).
  void charge(Node& n, std::int64_t ns) const;

  class ChargingStore final : public Store {
   public:
    ChargingStore(Impl& w, Node& n) : w_(w), n_(n) {}
    bool read(Table t, ByteView key, ValueUse use) const override;
    void write(const WriteBatch& batch) override;
    void scan(Table t, ByteView begin, ByteView end, const Visitor& visit) const override;
    bool read_last_with_prefix(Table t, ByteView prefix, EntryUse use) const override;
    std::uint64_t size_bytes() const override;

   private:
    Impl& w_;
    Node& n_;
  };

  class ChargingSigner final : public Signer {
   public:
    ChargingSigner(Impl& w, Node& n, std::unique_ptr<Signer> inner)
        : w_(w), n_(n), inner_(std::move(inner)) {}
    const PublicKey& public_key() const override { return inner_->public_key(); }
    Signature sign(ByteView message) const override;

   private:
    Impl& w_;
    Node& n_;
    std::unique_ptr<Signer> inner_;
  };

  class ChargingVerifier final : public Verifier {
   public:
    ChargingVerifier(Impl& w, Node& n, const Verifier& inner) : w_(w), n_(n), inner_(inner) {}
    bool verify(const PublicKey& key, ByteView message, const Signature& sig) const override;

   private:
    Impl& w_;
    Node& n_;
    const Verifier& inner_;
  };

  class SimEnv final : public Env {
   public:
    SimEnv(Impl& w, Node& n) : w_(w), n_(n) {}
    NodeId self() const override;
    TimeUs now_us() const override;
    void send(NodeId to, MessagePtr message) override;
    TimerId set_timer(TimeUs delay_us, std::uint64_t tag) override;
    void cancel_timer(TimerId id) override;
    Store& store() override;
    std::uint64_t random_u64() override;
    const Signer& signer() const override;
    const Verifier& verifier() const override;
    void reply(ClientRequestId id, ClientReply reply) override;
    void count(Counter c, std::int64_t delta) override;
    void log(LogLevel level, std::string_view text) override;

   private:
    Impl& w_;
    Node& n_;
  };

  struct Node {
    Node(Impl& w, Lane& l, std::uint32_t id_, NetworkId net, std::unique_ptr<Signer> s,
         const Verifier& v, LogicFactory f, std::uint64_t rng_seed)
        : id(id_),
          network(net),
          lane(l),
          raw_store(open_memory_store()),
          store(w, *this),
          signer(w, *this, std::move(s)),
          verifier(w, *this, v),
          env(w, *this),
          factory(std::move(f)),
          rng(rng_seed) {}

    std::uint32_t id;
    NetworkId network;
    Lane& lane;
    std::unique_ptr<Store> raw_store;
    ChargingStore store;  // what the logic sees: charges commits to the CPU
    ChargingSigner signer;
    ChargingVerifier verifier;
    SimEnv env;
    LogicFactory factory;
    std::unique_ptr<NodeLogic> logic;
    Rng rng;

    bool up = true;
    bool started = false;
    std::uint32_t incarnation = 0;
    TimeUs crashed_at = -1;  // the last crash
    TimeUs busy_until = 0;
    TimeUs uplink_free_at = 0;

    // The running handler, if any.
    bool in_handler = false;
    TimeUs handler_start = 0;
    std::int64_t charge_ns = 0;
    MessagePtr size_cache_message;  // held so its address cannot be reused
    std::uint32_t size_cache = 0;

    // Events that arrived while the CPU was busy, in arrival order; a kWake
    // event at busy_until runs the next one.
    std::deque<SimEvent> backlog;
    bool wake_pending = false;
    TimeUs wake_at = 0;
  };

  // One event loop over the nodes of some networks: its own clock, queue,
  // pools, network random stream and statistics.
  struct Lane {
    Lane(Impl& w_, std::uint32_t index_, std::uint64_t net_seed)
        : w(w_), index(index_), net_rng(net_seed) {}

    void push(TimeUs t, Kind kind, std::uint32_t node_id, std::uint32_t slot) {
      MHR_ASSERT_MSG(t >= now, "event scheduled in the past");
      heap.push(SimEvent{
          t, (next_seq++ << 16) | (std::uint64_t{index} << 8) | static_cast<std::uint64_t>(kind),
          node_id, slot});
    }
    TimeUs next_event_at() const { return heap.empty() ? kNever : heap.top().time; }

    // Most of an event's time goes in cache misses on its node's state:
    // asking for the next event's node while this one runs overlaps them.
    void prefetch_for(const SimEvent& ev) const {
      const Node* n = w.nodes[ev.node].get();
      __builtin_prefetch(n);
      __builtin_prefetch(n->logic.get());
    }

    TimeUs node_now(const Node& n) const {
      return n.in_handler ? n.handler_start + (n.charge_ns + 500) / 1000 : now;
    }
    void begin_handler(Node& n);
    void end_handler(Node& n);
    bool partitioned(std::uint32_t a, std::uint32_t b, TimeUs t) const;
    void drop(std::uint64_t& reason) {
      ++reason;
      ++stats.messages_dropped;
    }

    // ---- the Env operations
    void send(Node& n, NodeId to_id, MessagePtr message);
    void count_send(bool same_network, std::size_t type, std::uint32_t size, TimeUs depart);
    void deliver_later(Node& to, TimeUs arrive_at, InFlight message);
    TimerId set_timer(Node& n, TimeUs delay_us, std::uint64_t tag);
    void cancel_timer(Node& n, TimerId id);
    void reply(Node& n, ClientRequestId id, ClientReply reply);
    void log(Node& n, LogLevel level, std::string_view text);

    // ---- the event loop
    // Runs the events up to `end` inclusive (the one lane of a world).
    void run_through(TimeUs end);
    // Several lanes: takes what other lanes sent, then runs the events
    // before min(the other lanes' clocks + lookahead, stop); false if it
    // could run none.
    bool advance(TimeUs stop);
    TimeUs others_clock() const;
    void step();
    void dispatch(const SimEvent& ev);
    // A node event reached its node at `now`: run it, or queue it behind the
    // CPU's current work.
    void arrive(Node& n, const SimEvent& ev);
    void execute(Node& n, const SimEvent& ev);
    void release(const SimEvent& ev);  // frees the side slot of an unexecuted event
    void wake(Node& n);
    void crash(Node& n);
    void restart(Node& n);
    // Takes the messages other lanes sent here.
    void take_inboxes();

    Impl& w;
    std::uint32_t index;
    Rng net_rng;

    SimEventHeap heap;
    std::uint64_t next_seq = 0;
    TimeUs now = 0;
    std::atomic<std::uint64_t> events{0};  // written by the lane only; read for progress
    // No event before this will run here any more (several lanes): a lane
    // runs only what is earlier than every other lane's clock plus the
    // lookahead, since nothing they do can reach it sooner.
    alignas(64) std::atomic<TimeUs> clock{0};

    SlotPool<InFlight> in_flight;
    std::vector<TimerSlot> timers;
    std::vector<std::uint32_t> free_timers;
    SlotPool<ClientSlot> client_slots;
    SlotPool<ReplySlot> reply_slots;
    SlotPool<std::function<void()>> actions;
    std::map<ClientRequestId, PendingClient> pending;  // ordered: crash fails in id order
    ClientRequestId next_client_id = 1;

    SimStats stats;
    std::vector<SecondStats> per_second;
    std::vector<SimLogEntry> logs;
    std::uint64_t logs_dropped = 0;
    std::unique_ptr<Inbox[]> inboxes;  // by sending lane
  };

  Impl(SimWorld& owner_, std::uint64_t seed_, NetworkModel net_, CpuModel cpu_)
      : owner(owner_), seed(seed_), network(std::move(net_)), cpu(cpu_) {
    make_lanes(1);
  }

  Node& node(NodeId id) {
    MHR_ASSERT_MSG(id.value < nodes.size(), "unknown node id");
    return *nodes[id.value];
  }
  const Node& node(NodeId id) const {
    MHR_ASSERT_MSG(id.value < nodes.size(), "unknown node id");
    return *nodes[id.value];
  }
  Lane& lane_for(NetworkId network) { return *lanes[network.value % lanes.size()]; }
  bool single_lane() const { return lanes.size() == 1; }

  void make_lanes(std::uint32_t count);
  void run_lanes_until(TimeUs end_us);
  // Runs every lane's events before `stop`, the lanes side by side.
  void run_lanes_before(TimeUs stop);
  void run_global_action();
  void set_lane_clocks(TimeUs t);
  void report_progress();
  TimeUs lanes_now() const;

  SimWorld& owner;
  std::uint64_t seed;
  NetworkModel network;
  CpuModel cpu;

  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<NodeCounters> node_counters;
  std::vector<PartitionState> partitions;

  std::vector<std::unique_ptr<Lane>> lanes;
  std::uint32_t threads = 1;
  std::unique_ptr<LaneThreads> crew;      // made at the first run with several threads
  std::atomic<bool> lanes_failed{false};  // a lane threw: every thread stops
  TimeUs lookahead_us = 0;

  // With several lanes: driver actions outside any lane, run when every
  // lane has reached their time.
  SimEventHeap global_actions;
  SlotPool<std::function<void()>> global_action_fns;
  std::uint64_t global_seq = 0;
  std::uint64_t global_events = 0;
  TimeUs global_now = 0;

  // Sums over lanes, made when asked.
  mutable SimStats merged_stats;
  mutable std::vector<SecondStats> merged_per_second;
  mutable std::vector<SimLogEntry> merged_logs;
  std::size_t log_limit = 10'000;
  bool verbose = false;

  ProgressCallback progress;
  std::uint64_t progress_every = 0;
  std::uint64_t progress_reported = 0;  // events at the last report (several lanes)

  // The lane whose events this thread is running, if any: now(), at() and
  // submit() act on it.
  static thread_local Lane* running_lane;
  Lane* running_here() const {
    return running_lane != nullptr && &running_lane->w == this ? running_lane : nullptr;
  }
  class RunningLane {
   public:
    explicit RunningLane(Lane* lane) : saved_(running_lane) { running_lane = lane; }
    ~RunningLane() { running_lane = saved_; }
    RunningLane(const RunningLane&) = delete;
    RunningLane& operator=(const RunningLane&) = delete;

   private:
    Lane* saved_;
  };
};

thread_local SimWorld::Impl::Lane* SimWorld::Impl::running_lane = nullptr;

// ---- CPU charging wrappers

void SimWorld::Impl::charge(Node& n, std::int64_t ns) const {
  if (cpu.enabled && n.in_handler) n.charge_ns += ns;
}

bool SimWorld::Impl::ChargingStore::read(Table t, ByteView key, ValueUse use) const {
  return n_.raw_store->read(t, key, use);
}

void SimWorld::Impl::ChargingStore::write(const WriteBatch& batch) {
  n_.raw_store->write(batch);
  if (batch.empty()) return;
  std::size_t bytes = 0;
  for (const WriteBatch::Op op : batch.ops()) bytes += op.key.size() + op.value.size();
  w_.charge(n_, w_.cpu.store_commit_us * 1000 +
                    llround_ns(static_cast<double>(bytes) * w_.cpu.store_per_byte_ns));
}

void SimWorld::Impl::ChargingStore::scan(Table t, ByteView begin, ByteView end,
                                         const Visitor& visit) const {
  n_.raw_store->scan(t, begin, end, visit);
}

bool SimWorld::Impl::ChargingStore::read_last_with_prefix(Table t, ByteView prefix,
                                                          EntryUse use) const {
  return n_.raw_store->read_last_with_prefix(t, prefix, use);
}

std::uint64_t SimWorld::Impl::ChargingStore::size_bytes() const {
  return n_.raw_store->size_bytes();
}

Signature SimWorld::Impl::ChargingSigner::sign(ByteView message) const {
  w_.charge(n_, w_.cpu.sign_us * 1000);
  return inner_->sign(message);
}

bool SimWorld::Impl::ChargingVerifier::verify(const PublicKey& key, ByteView message,
                                              const Signature& sig) const {
  w_.charge(n_, w_.cpu.verify_us * 1000);
  return inner_.verify(key, message, sig);
}

// ---- SimEnv

NodeId SimWorld::Impl::SimEnv::self() const {
  return NodeId{n_.id};
}
TimeUs SimWorld::Impl::SimEnv::now_us() const {
  return n_.lane.node_now(n_);
}
void SimWorld::Impl::SimEnv::send(NodeId to, MessagePtr message) {
  n_.lane.send(n_, to, std::move(message));
}
TimerId SimWorld::Impl::SimEnv::set_timer(TimeUs delay_us, std::uint64_t tag) {
  return n_.lane.set_timer(n_, delay_us, tag);
}
void SimWorld::Impl::SimEnv::cancel_timer(TimerId id) {
  n_.lane.cancel_timer(n_, id);
}
Store& SimWorld::Impl::SimEnv::store() {
  return n_.store;
}
std::uint64_t SimWorld::Impl::SimEnv::random_u64() {
  return n_.rng.next_u64();
}
const Signer& SimWorld::Impl::SimEnv::signer() const {
  return n_.signer;
}
const Verifier& SimWorld::Impl::SimEnv::verifier() const {
  return n_.verifier;
}
void SimWorld::Impl::SimEnv::reply(ClientRequestId id, ClientReply reply) {
  n_.lane.reply(n_, id, std::move(reply));
}
void SimWorld::Impl::SimEnv::count(Counter c, std::int64_t delta) {
  const auto i = static_cast<std::size_t>(c);
  MHR_ASSERT(i < kCounterCount);
  n_.lane.stats.counters[i] += delta;
  w_.node_counters[n_.id][i] += delta;  // each node's row is written by its lane only
}
void SimWorld::Impl::SimEnv::log(LogLevel level, std::string_view text) {
  n_.lane.log(n_, level, text);
}

// ---- a lane: handlers

void SimWorld::Impl::Lane::begin_handler(Node& n) {
  MHR_ASSERT_MSG(!n.in_handler, "nested handler");
  MHR_ASSERT(n.busy_until <= now);
  n.in_handler = true;
  n.handler_start = now;
  n.charge_ns = 0;
}

void SimWorld::Impl::Lane::end_handler(Node& n) {
  const TimeUs end = n.handler_start + (n.charge_ns + 500) / 1000;
  if (end > n.busy_until) n.busy_until = end;
  n.in_handler = false;
  n.size_cache_message.reset();
}

bool SimWorld::Impl::Lane::partitioned(std::uint32_t a, std::uint32_t b, TimeUs t) const {
  for (const auto& ps : w.partitions) {
    if (!ps.partition.active_at(t)) continue;
    const std::int32_t ga = a < ps.group_of.size() ? ps.group_of[a] : -1;
    const std::int32_t gb = b < ps.group_of.size() ? ps.group_of[b] : -1;
    if (ga >= 0 && gb >= 0 && ga != gb) return true;
  }
  return false;
}

// ---- a lane: the Env operations

void SimWorld::Impl::Lane::send(Node& n, NodeId to_id, MessagePtr message) {
  MHR_ASSERT_MSG(message != nullptr, "send of a null message");
  MHR_ASSERT_MSG(to_id.value < w.nodes.size(), "send to an unknown node");
  MHR_ASSERT_MSG(n.up, "send from a node that is down");
  Node& to = *w.nodes[to_id.value];  // another lane's node: only its constant fields

  // A broadcast sends one object many times: size it once per handler.
  std::uint32_t size;
  if (n.in_handler && message == n.size_cache_message) {
    size = n.size_cache;
  } else {
    size = static_cast<std::uint32_t>(encoded_size(*message));
    if (n.in_handler) {
      n.size_cache_message = message;
      n.size_cache = size;
    }
  }

  const TimeUs depart = node_now(n);
  const bool same_network = n.network == to.network;
  count_send(same_network, message->index(), size, depart);
  if (w.owner.on_send) w.owner.on_send(NodeId{n.id}, to_id, *message);

  if (&to == &n) {  // loopback: no network, but still an event
    const std::uint32_t slot =
        in_flight.put(InFlight{std::move(message), n.id, size, n.incarnation});
    push(depart, Kind::kDeliver, n.id, slot);
    return;
  }

  const LinkClass& link = same_network ? w.network.intra : w.network.inter;
  // The sender's uplink serialises its messages one after another.
  const TimeUs tx_start = depart > n.uplink_free_at ? depart : n.uplink_free_at;
  const TimeUs on_wire = tx_start + link.serialisation_us(size);
  n.uplink_free_at = on_wire;

  if (!w.partitions.empty() && partitioned(n.id, to.id, depart))
    return drop(stats.dropped_partition);
  if (link.loss > 0 && net_rng.bernoulli(link.loss)) return drop(stats.dropped_loss);
  const bool twice = link.duplicate > 0 && net_rng.bernoulli(link.duplicate);
  if (twice) {
    ++stats.messages_duplicated;
    deliver_later(to, on_wire + link.latency.sample(net_rng),
                  InFlight{message, n.id, size, 0, depart});
  }
  deliver_later(to, on_wire + link.latency.sample(net_rng),
                InFlight{std::move(message), n.id, size, 0, depart});
}

void SimWorld::Impl::Lane::count_send(bool same_network, std::size_t type, std::uint32_t size,
                                      TimeUs depart) {
  ++stats.messages_total;
  ++(same_network ? stats.messages_intra : stats.messages_inter);
  stats.bytes_sent += size;
  ++stats.messages_by_type[type];
  stats.bytes_by_type[type] += size;
  const auto second = static_cast<std::size_t>(depart / kUsPerSecond);
  if (second >= per_second.size()) per_second.resize(second + 1);
  ++per_second[second].messages;
  per_second[second].bytes += size;
}

void SimWorld::Impl::Lane::deliver_later(Node& to, TimeUs arrive_at, InFlight message) {
  if (&to.lane == this) {
    message.incarnation = to.incarnation;
    push(arrive_at, Kind::kDeliver, to.id, in_flight.put(std::move(message)));
    return;
  }
  // Lanes hold whole networks and run no further than the lookahead past
  // the others' clocks: this never fires unless that bound is wrong.
  MHR_ASSERT_MSG(arrive_at >= to.lane.clock.load(std::memory_order_relaxed),
                 "a message to another lane arrives before that lane's clock");
  message.incarnation = kFromAnotherLane;
  const std::uint64_t key =
      (next_seq++ << 16) | (std::uint64_t{index} << 8) | static_cast<std::uint64_t>(Kind::kDeliver);
  Inbox& inbox = to.lane.inboxes[index];
  std::lock_guard lock(inbox.mutex);
  inbox.items.push_back(CrossMessage{arrive_at, key, to.id, std::move(message)});
  inbox.nonempty.store(true, std::memory_order_relaxed);
}

TimerId SimWorld::Impl::Lane::set_timer(Node& n, TimeUs delay_us, std::uint64_t tag) {
  MHR_ASSERT_MSG(delay_us >= 0, "negative timer delay");
  std::uint32_t slot;
  if (!free_timers.empty()) {
    slot = free_timers.back();
    free_timers.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(timers.size());
    timers.emplace_back();
  }
  TimerSlot& t = timers[slot];
  ++t.generation;  // from 1: a TimerId is never 0
  t.node = n.id;
  t.incarnation = n.incarnation;
  t.live = true;
  t.cancelled = false;
  t.tag = tag;
  push(node_now(n) + delay_us, Kind::kTimer, n.id, slot);
  return (static_cast<TimerId>(t.generation) << 32) | slot;
}

void SimWorld::Impl::Lane::cancel_timer(Node& n, TimerId id) {
  const auto slot = static_cast<std::uint32_t>(id & 0xFFFFFFFFu);
  const auto generation = static_cast<std::uint32_t>(id >> 32);
  if (slot >= timers.size()) return;
  TimerSlot& t = timers[slot];
  // Fired, already cancelled, or reused: nothing to do.
  if (!t.live || t.generation != generation || t.node != n.id) return;
  t.cancelled = true;
}

void SimWorld::Impl::Lane::reply(Node& n, ClientRequestId id, ClientReply reply) {
  auto it = pending.find(id);
  if (it == pending.end()) return;  // lost in a crash, or answered already
  MHR_ASSERT_MSG(it->second.node == n.id, "a node replied to another node's client request");
  ReplySlot r{std::move(it->second.callback), std::move(reply)};
  pending.erase(it);
  const std::uint32_t slot = reply_slots.put(std::move(r));
  push(node_now(n), Kind::kReply, n.id, slot);
}

void SimWorld::Impl::Lane::log(Node& n, LogLevel level, std::string_view text) {
  const TimeUs t = node_now(n);
  if (w.verbose) {
    std::fprintf(stderr, "[%lld us] node %u %s: %.*s\n", static_cast<long long>(t), n.id,
                 log_level_name(level).data(), static_cast<int>(text.size()), text.data());
  }
  if (level < LogLevel::kWarn) return;
  if (logs.size() >= w.log_limit) {
    ++logs_dropped;
    return;
  }
  logs.push_back(SimLogEntry{t, NodeId{n.id}, level, std::string(text)});
}

// ---- a lane: the event loop

void SimWorld::Impl::Lane::run_through(TimeUs end) {
  RunningLane running(this);
  while (!heap.empty() && heap.top().time <= end) {
    step();
    const std::uint64_t n = events.load(std::memory_order_relaxed);
    if (w.progress_every != 0 && n % w.progress_every == 0 && w.progress) w.progress(now, n);
  }
}

TimeUs SimWorld::Impl::Lane::others_clock() const {
  TimeUs earliest = kNever;
  for (const auto& l : w.lanes)
    if (l.get() != this) earliest = std::min(earliest, l->clock.load(std::memory_order_acquire));
  return earliest;
}

// The clocks are read before the inboxes: whatever another lane sent before
// it published the clock read is in its inbox by then, and whatever it
// sends later arrives at or after that clock plus the lookahead.
bool SimWorld::Impl::Lane::advance(TimeUs stop) {
  const TimeUs bound = std::min(saturating_add(others_clock(), w.lookahead_us), stop);
  take_inboxes();
  RunningLane running(this);
  bool ran = false;
  while (!heap.empty() && heap.top().time < bound) {
    clock.store(heap.top().time, std::memory_order_release);
    step();
    ran = true;
  }
  clock.store(std::min(next_event_at(), bound), std::memory_order_release);
  return ran;
}

void SimWorld::Impl::Lane::step() {
  const SimEvent ev = heap.pop();
  MHR_ASSERT_MSG(ev.time >= now, "simulated time went backwards");
  now = ev.time;
  if (!heap.empty()) prefetch_for(heap.top());
  events.store(events.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  dispatch(ev);
}

void SimWorld::Impl::Lane::dispatch(const SimEvent& ev) {
  switch (kind_of(ev)) {
    case Kind::kDeliver: {
      Node& n = *w.nodes[ev.node];
      InFlight& m = in_flight.at(ev.slot);
      const bool old_life = m.incarnation == kFromAnotherLane ? n.crashed_at > m.sent_at
                                                              : m.incarnation != n.incarnation;
      if (!n.up || old_life) {
        in_flight.take(ev.slot);
        return drop(stats.dropped_down);
      }
      if (!w.partitions.empty() && partitioned(m.from, n.id, now)) {
        in_flight.take(ev.slot);
        return drop(stats.dropped_partition);
      }
      return arrive(n, ev);
    }
    case Kind::kTimer: {
      TimerSlot& t = timers[ev.slot];
      MHR_ASSERT(t.live && t.node == ev.node);
      Node& n = *w.nodes[ev.node];
      if (t.cancelled || !n.up || t.incarnation != n.incarnation) return release(ev);
      return arrive(n, ev);
    }
    case Kind::kClient: {
      Node& n = *w.nodes[ev.node];
      if (!pending.contains(client_slots.at(ev.slot).id)) return release(ev);  // failed at crash
      return arrive(n, ev);
    }
    case Kind::kStart: {
      Node& n = *w.nodes[ev.node];
      if (!n.up) return;  // crashed before starting: the restart starts it
      return arrive(n, ev);
    }
    case Kind::kReply: {
      ReplySlot r = reply_slots.take(ev.slot);
      ++stats.client_replies;
      if (r.callback) r.callback(r.reply);
      return;
    }
    case Kind::kAction: {
      std::function<void()> fn = actions.take(ev.slot);
      fn();
      return;
    }
    case Kind::kCrash:
      return crash(*w.nodes[ev.node]);
    case Kind::kRestart:
      return restart(*w.nodes[ev.node]);
    case Kind::kWake:
      return wake(*w.nodes[ev.node]);
  }
  MHR_ASSERT_MSG(false, "unknown event kind");
}

void SimWorld::Impl::Lane::arrive(Node& n, const SimEvent& ev) {
  if (n.backlog.empty() && n.busy_until <= now) return execute(n, ev);
  n.backlog.push_back(ev);
  if (!n.wake_pending) {
    n.wake_pending = true;
    n.wake_at = n.busy_until > now ? n.busy_until : now;
    push(n.wake_at, Kind::kWake, n.id, 0);
  }
}

void SimWorld::Impl::Lane::wake(Node& n) {
  if (!n.wake_pending || n.wake_at != now) return;  // stale (crash meanwhile)
  n.wake_pending = false;
  MHR_ASSERT(!n.backlog.empty() && n.busy_until <= now);
  const SimEvent next = n.backlog.front();
  n.backlog.pop_front();
  execute(n, next);
  if (!n.backlog.empty() && n.up) {
    n.wake_pending = true;
    n.wake_at = n.busy_until > now ? n.busy_until : now;
    push(n.wake_at, Kind::kWake, n.id, 0);
  }
}

void SimWorld::Impl::Lane::execute(Node& n, const SimEvent& ev) {
  MHR_ASSERT(n.up && n.logic != nullptr);
  switch (kind_of(ev)) {
    case Kind::kDeliver: {
      InFlight m = in_flight.take(ev.slot);
      begin_handler(n);
      w.charge(n, w.cpu.per_message_us * 1000 +
                      llround_ns(static_cast<double>(m.size) * w.cpu.per_byte_ns));
      ++stats.messages_delivered;
      if (w.owner.on_deliver) w.owner.on_deliver(now, NodeId{m.from}, NodeId{n.id}, *m.message);
      n.logic->on_message(NodeId{m.from}, *m.message);
      end_handler(n);
      return;
    }
    case Kind::kTimer: {
      TimerSlot& t = timers[ev.slot];
      const bool cancelled = t.cancelled;  // perhaps while it waited for the CPU
      const TimerId id = (static_cast<TimerId>(t.generation) << 32) | ev.slot;
      const std::uint64_t tag = t.tag;
      t.live = false;
      free_timers.push_back(ev.slot);
      if (cancelled) return;
      ++stats.timers_fired;
      begin_handler(n);
      n.logic->on_timer(id, tag);
      end_handler(n);
      return;
    }
    case Kind::kClient: {
      ClientSlot c = client_slots.take(ev.slot);
      if (!pending.contains(c.id)) return;
      ++stats.client_requests;
      begin_handler(n);
      w.charge(n, w.cpu.per_message_us * 1000);
      n.logic->on_client(c.id, c.request);
      end_handler(n);
      return;
    }
    case Kind::kStart: {
      begin_handler(n);
      n.logic->start();
      end_handler(n);
      return;
    }
    default:
      break;
  }
  MHR_ASSERT_MSG(false, "not a node event");
}

void SimWorld::Impl::Lane::release(const SimEvent& ev) {
  switch (kind_of(ev)) {
    case Kind::kDeliver:
      in_flight.take(ev.slot);
      drop(stats.dropped_down);
      return;
    case Kind::kTimer:
      timers[ev.slot].live = false;
      free_timers.push_back(ev.slot);
      return;
    case Kind::kClient:
      client_slots.take(ev.slot);
      return;
    default:
      return;
  }
}

void SimWorld::Impl::Lane::crash(Node& n) {
  if (!n.up) return;
  ++stats.crashes;
  n.up = false;
  ++n.incarnation;  // in-flight messages and timers of the old life now miss
  n.crashed_at = now;
  n.logic.reset();
  for (const SimEvent& ev : n.backlog) release(ev);
  n.backlog.clear();
  n.wake_pending = false;
  n.busy_until = now;
  n.uplink_free_at = now;
  // Fail its pending client requests, in id order.
  std::vector<ReplyCallback> failed;
  for (auto it = pending.begin(); it != pending.end();) {
    if (it->second.node == n.id) {
      failed.push_back(std::move(it->second.callback));
      it = pending.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& cb : failed) {
    ++stats.client_replies;
    if (cb) cb(make_reply(ReplyStatus::kUnavailable, "node crashed"));
  }
}

void SimWorld::Impl::Lane::restart(Node& n) {
  if (n.up) return;
  ++stats.restarts;
  n.up = true;
  n.started = true;
  if (n.busy_until < now) n.busy_until = now;
  begin_handler(n);
  n.logic = n.factory(n.env);
  MHR_ASSERT_MSG(n.logic != nullptr, "logic factory returned null");
  n.logic->start();
  end_handler(n);
}

void SimWorld::Impl::Lane::take_inboxes() {
  for (std::size_t from = 0; from < w.lanes.size(); ++from) {
    Inbox& inbox = inboxes[from];
    if (!inbox.nonempty.load(std::memory_order_relaxed)) continue;
    std::lock_guard lock(inbox.mutex);
    for (CrossMessage& c : inbox.items) {
      MHR_ASSERT(&w.nodes[c.to]->lane == this);
      MHR_ASSERT_MSG(c.arrive_at >= now, "a message from another lane arrived in the past");
      heap.push(SimEvent{c.arrive_at, c.key, c.to, in_flight.put(std::move(c.message))});
    }
    inbox.items.clear();
    inbox.nonempty.store(false, std::memory_order_relaxed);
  }
}

// ---- lanes together

void SimWorld::Impl::make_lanes(std::uint32_t count) {
  lanes.clear();
  for (std::uint32_t i = 0; i < count; ++i) {
    // Lane 0 draws from the world's seed, as the single loop always did.
    const std::uint64_t net_seed = i == 0 ? seed : mix_seed(seed, 0x4C414E45ull + i);
    lanes.push_back(std::make_unique<Lane>(*this, i, net_seed));
  }
  for (auto& l : lanes) l->inboxes = std::make_unique<Inbox[]>(count);
}

TimeUs SimWorld::Impl::lanes_now() const {
  return single_lane() ? lanes[0]->now : global_now;
}

void SimWorld::Impl::run_lanes_until(TimeUs end_us) {
  for (;;) {
    // What was sent from outside the lanes (actions, tests) goes in first.
    for (auto& l : lanes) l->take_inboxes();
    TimeUs next = kNever;
    for (const auto& l : lanes) next = std::min(next, l->next_event_at());
    const TimeUs action_at = global_actions.empty() ? kNever : global_actions.top().time;
    const TimeUs first = std::min(next, action_at);
    if (first == kNever || first > end_us) break;
    if (action_at <= next) {
      run_global_action();
      continue;
    }
    run_lanes_before(std::min(action_at, saturating_add(end_us, 1)));
  }
  for (auto& l : lanes) l->take_inboxes();
  global_now = std::max(global_now, end_us);
  set_lane_clocks(global_now);
}

void SimWorld::Impl::set_lane_clocks(TimeUs t) {
  for (auto& l : lanes) {
    l->now = std::max(l->now, t);
    l->clock.store(l->now, std::memory_order_relaxed);
  }
}

// Each thread advances its lanes in turn until every lane's clock is at
// `stop`. A lane's clock starts at the earliest next event of all lanes,
// a lower bound for each until it has looked at the others.
void SimWorld::Impl::run_lanes_before(TimeUs stop) {
  TimeUs earliest = kNever;
  for (const auto& l : lanes) earliest = std::min(earliest, l->next_event_at());
  for (auto& l : lanes) l->clock.store(std::min(earliest, stop), std::memory_order_relaxed);
  const auto all_at_stop = [this, stop] {
    for (const auto& l : lanes)
      if (l->clock.load(std::memory_order_acquire) < stop) return false;
    return true;
  };
  lanes_failed.store(false, std::memory_order_relaxed);
  const auto lanes_of_thread = [&](std::uint32_t thread) {
    // Idle rounds before a waiting thread yields its core, in case threads
    // outnumber the cores.
    constexpr int kIdleSpins = 256;
    try {
      for (int idle = 0; !all_at_stop() && !lanes_failed.load(std::memory_order_relaxed);) {
        bool ran = false;
        for (std::size_t i = thread; i < lanes.size(); i += threads) ran |= lanes[i]->advance(stop);
        if (thread == 0) report_progress();
        if (ran) {
          idle = 0;
        } else if (++idle < kIdleSpins) {
          cpu_relax();
        } else {
          std::this_thread::yield();
        }
      }
    } catch (...) {
      // The other threads would wait for ever for this thread's lanes.
      lanes_failed.store(true, std::memory_order_relaxed);
      throw;
    }
  };
  if (threads == 1) {
    lanes_of_thread(0);
  } else {
    if (!crew) crew = std::make_unique<LaneThreads>(threads);
    crew->run(lanes_of_thread);
  }
}

void SimWorld::Impl::run_global_action() {
  const SimEvent ev = global_actions.pop();
  MHR_ASSERT(ev.time >= global_now);
  global_now = ev.time;
  set_lane_clocks(global_now);
  ++global_events;
  std::function<void()> fn = global_action_fns.take(ev.slot);
  fn();
}

void SimWorld::Impl::report_progress() {
  if (progress_every == 0 || !progress) return;
  std::uint64_t events = global_events;
  for (const auto& l : lanes) events += l->events.load(std::memory_order_relaxed);
  if (events / progress_every == progress_reported / progress_every) return;
  progress_reported = events;
  TimeUs reached = kNever;
  for (const auto& l : lanes) reached = std::min(reached, l->clock.load(std::memory_order_relaxed));
  progress(reached, events);
}

// ---- SimWorld

SimWorld::SimWorld(std::uint64_t seed, NetworkModel network, CpuModel cpu)
    : impl_(std::make_unique<Impl>(*this, seed, std::move(network), cpu)) {}

SimWorld::~SimWorld() = default;

void SimWorld::set_lanes(std::uint32_t lanes, std::uint32_t threads) {
  auto& w = *impl_;
  MHR_ASSERT_MSG(w.nodes.empty(), "set_lanes before add_node");
  MHR_ASSERT_MSG(lanes >= 1 && lanes <= kMaxSimLanes, "lanes: 1 to kMaxSimLanes");
  MHR_ASSERT_MSG(threads >= 1, "threads: at least 1");
  if (lanes > 1) {
    w.lookahead_us = w.network.inter.latency.lower_bound_us();
    MHR_ASSERT_MSG(w.lookahead_us > 0, "several lanes need a lower bound on inter-network latency");
  }
  w.make_lanes(lanes);
  w.threads = std::min(threads, lanes);
  w.crew.reset();
}

std::uint32_t SimWorld::lane_count() const {
  return static_cast<std::uint32_t>(impl_->lanes.size());
}

std::uint32_t SimWorld::thread_count() const {
  return impl_->threads;
}

std::uint32_t SimWorld::lane_of(NodeId node) const {
  return impl_->node(node).lane.index;
}

NodeId SimWorld::add_node(NetworkId network, std::unique_ptr<Signer> signer,
                          const Verifier& verifier, LogicFactory factory) {
  MHR_ASSERT_MSG(signer != nullptr, "add_node needs a signer");
  MHR_ASSERT_MSG(factory != nullptr, "add_node needs a logic factory");
  auto& w = *impl_;
  const auto id = static_cast<std::uint32_t>(w.nodes.size());
  Impl::Lane& lane = w.lane_for(network);
  w.nodes.push_back(std::make_unique<Impl::Node>(w, lane, id, network, std::move(signer), verifier,
                                                 std::move(factory), mix_seed(w.seed, id + 1)));
  w.node_counters.emplace_back();
  Impl::Node& n = *w.nodes.back();
  n.busy_until = lane.now;
  n.logic = n.factory(n.env);
  MHR_ASSERT_MSG(n.logic != nullptr, "logic factory returned null");
  return NodeId{id};
}

void SimWorld::start_all() {
  for (auto& n : impl_->nodes) {
    if (n->started) continue;
    n->started = true;
    n->lane.push(n->lane.now, Kind::kStart, n->id, 0);
  }
}

void SimWorld::add_partition(Partition partition) {
  MHR_ASSERT_MSG(partition.start_us <= partition.end_us, "partition ends before it starts");
  PartitionState ps;
  for (std::size_t g = 0; g < partition.groups.size(); ++g) {
    for (NodeId id : partition.groups[g]) {
      if (id.value >= ps.group_of.size()) ps.group_of.resize(id.value + 1, -1);
      MHR_ASSERT_MSG(ps.group_of[id.value] == -1, "a node is in two groups of one partition");
      ps.group_of[id.value] = static_cast<std::int32_t>(g);
    }
  }
  ps.partition = std::move(partition);
  impl_->partitions.push_back(std::move(ps));
}

void SimWorld::schedule_crash(NodeId node, TimeUs crash_at_us, TimeUs restart_at_us) {
  Impl::Node& n = impl_->node(node);
  MHR_ASSERT_MSG(crash_at_us < restart_at_us, "restart must come after the crash");
  n.lane.push(crash_at_us, Kind::kCrash, n.id, 0);
  n.lane.push(restart_at_us, Kind::kRestart, n.id, 0);
}

void SimWorld::at(TimeUs t, std::function<void()> fn) {
  MHR_ASSERT_MSG(fn != nullptr, "at() needs an action");
  auto& w = *impl_;
  Impl::Lane* lane = w.running_here();
  if (lane == nullptr && w.single_lane()) lane = w.lanes[0].get();
  if (lane != nullptr) return at_lane(lane->index, t, std::move(fn));
  MHR_ASSERT_MSG(t >= w.global_now, "action scheduled in the past");
  const std::uint32_t slot = w.global_action_fns.put(std::move(fn));
  w.global_actions.push(
      SimEvent{t, (w.global_seq++ << 8) | static_cast<std::uint64_t>(Kind::kAction), 0, slot});
}

void SimWorld::at_lane(std::uint32_t lane, TimeUs t, std::function<void()> fn) {
  MHR_ASSERT_MSG(fn != nullptr, "at() needs an action");
  auto& w = *impl_;
  MHR_ASSERT_MSG(lane < w.lanes.size(), "unknown lane");
  Impl::Lane& l = *w.lanes[lane];
  l.push(t, Kind::kAction, 0, l.actions.put(std::move(fn)));
}

void SimWorld::submit(NodeId node, ClientRequest request, ReplyCallback on_reply) {
  auto& w = *impl_;
  Impl::Node& n = w.node(node);
  Impl::Lane& lane = n.lane;
  const Impl::Lane* running = w.running_here();
  MHR_ASSERT_MSG(running == nullptr || running == &lane, "a lane submitted to another lane's node");
  const ClientRequestId id = lane.next_client_id++;
  if (!n.up) {
    ++lane.stats.client_replies;
    if (on_reply) on_reply(make_reply(ReplyStatus::kUnavailable, "node down"));
    return;
  }
  lane.pending.emplace(id, PendingClient{n.id, std::move(on_reply)});
  const std::uint32_t slot = lane.client_slots.put(ClientSlot{id, std::move(request)});
  lane.push(lane.now, Kind::kClient, n.id, slot);
}

void SimWorld::run_until(TimeUs end_us) {
  auto& w = *impl_;
  if (!w.single_lane()) return w.run_lanes_until(end_us);
  Impl::Lane& lane = *w.lanes[0];
  lane.run_through(end_us);
  if (end_us > lane.now) lane.now = end_us;
}

TimeUs SimWorld::now() const {
  const Impl::Lane* running = impl_->running_here();
  return running != nullptr ? running->now : impl_->lanes_now();
}

std::uint64_t SimWorld::events_processed() const {
  std::uint64_t events = impl_->global_events;
  for (const auto& l : impl_->lanes) events += l->events.load(std::memory_order_relaxed);
  return events;
}

std::size_t SimWorld::events_pending() const {
  std::size_t pending = impl_->global_actions.size();
  for (const auto& l : impl_->lanes) pending += l->heap.size();
  return pending;
}

void SimWorld::set_progress(ProgressCallback callback, std::uint64_t every_events) {
  impl_->progress = std::move(callback);
  impl_->progress_every = every_events;
}

std::size_t SimWorld::node_count() const {
  return impl_->nodes.size();
}
NetworkId SimWorld::network_of(NodeId node) const {
  return impl_->node(node).network;
}
Store& SimWorld::store_of(NodeId node) {
  return *impl_->node(node).raw_store;
}
NodeLogic* SimWorld::logic_of(NodeId node) {
  auto& n = impl_->node(node);
  return n.up ? n.logic.get() : nullptr;
}
Env& SimWorld::env_of(NodeId node) {
  return impl_->node(node).env;
}
bool SimWorld::is_up(NodeId node) const {
  return impl_->node(node).up;
}
TimeUs SimWorld::busy_until(NodeId node) const {
  return impl_->node(node).busy_until;
}
const NetworkModel& SimWorld::network() const {
  return impl_->network;
}
const CpuModel& SimWorld::cpu() const {
  return impl_->cpu;
}

const SimStats& SimWorld::stats() const {
  auto& w = *impl_;
  w.merged_stats = SimStats{};
  for (const auto& l : w.lanes) w.merged_stats.add(l->stats);
  return w.merged_stats;
}

const std::vector<SecondStats>& SimWorld::per_second() const {
  auto& w = *impl_;
  if (w.single_lane()) return w.lanes[0]->per_second;
  w.merged_per_second.clear();
  for (const auto& l : w.lanes) {
    if (l->per_second.size() > w.merged_per_second.size())
      w.merged_per_second.resize(l->per_second.size());
    for (std::size_t s = 0; s < l->per_second.size(); ++s) {
      w.merged_per_second[s].messages += l->per_second[s].messages;
      w.merged_per_second[s].bytes += l->per_second[s].bytes;
    }
  }
  return w.merged_per_second;
}

const std::vector<SimWorld::NodeCounters>& SimWorld::node_counters() const {
  return impl_->node_counters;
}

const std::vector<SimLogEntry>& SimWorld::logs() const {
  auto& w = *impl_;
  if (w.single_lane()) return w.lanes[0]->logs;
  w.merged_logs.clear();
  for (const auto& l : w.lanes)
    w.merged_logs.insert(w.merged_logs.end(), l->logs.begin(), l->logs.end());
  std::stable_sort(
      w.merged_logs.begin(), w.merged_logs.end(),
      [](const SimLogEntry& a, const SimLogEntry& b) { return a.time_us < b.time_us; });
  return w.merged_logs;
}

std::uint64_t SimWorld::logs_dropped() const {
  std::uint64_t dropped = 0;
  for (const auto& l : impl_->lanes) dropped += l->logs_dropped;
  return dropped;
}
void SimWorld::set_log_limit(std::size_t limit) {
  impl_->log_limit = limit;
}
void SimWorld::set_verbose(bool verbose) {
  impl_->verbose = verbose;
}

}  // namespace mhr
