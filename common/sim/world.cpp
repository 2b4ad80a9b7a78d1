#include "common/sim/world.hpp"

#include <cmath>
#include <cstdio>
#include <deque>
#include <map>
#include <utility>

#include "common/assert.hpp"
#include "common/sim/rng.hpp"

namespace mhr {
namespace {

// ---- events: small PODs in a 4-ary min-heap ordered by (time, key). The
// key is the insertion sequence shifted left by 8 with the kind in the low
// byte, so ties in time keep insertion order. Payloads live in side pools,
// indexed by `slot`.
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

struct Event {
  TimeUs time;
  std::uint64_t key;
  std::uint32_t node;
  std::uint32_t slot;

  Kind kind() const { return static_cast<Kind>(key & 0xFF); }
};
static_assert(sizeof(Event) == 24);

inline bool earlier(const Event& a, const Event& b) {
  return a.time < b.time || (a.time == b.time && a.key < b.key);
}

class EventHeap {
 public:
  bool empty() const { return v_.empty(); }
  std::size_t size() const { return v_.size(); }
  const Event& top() const { return v_.front(); }

  void push(const Event& e) {
    std::size_t i = v_.size();
    v_.push_back(e);
    while (i > 0) {
      const std::size_t parent = (i - 1) / 4;
      if (!earlier(e, v_[parent])) break;
      v_[i] = v_[parent];
      i = parent;
    }
    v_[i] = e;
  }

  Event pop() {
    const Event top = v_.front();
    const Event last = v_.back();
    v_.pop_back();
    const std::size_t n = v_.size();
    if (n == 0) return top;
    std::size_t i = 0;
    for (;;) {
      const std::size_t first = 4 * i + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t end = first + 4 < n ? first + 4 : n;
      for (std::size_t c = first + 1; c < end; ++c)
        if (earlier(v_[c], v_[best])) best = c;
      if (!earlier(v_[best], last)) break;
      v_[i] = v_[best];
      i = best;
    }
    v_[i] = last;
    return top;
  }

 private:
  std::vector<Event> v_;
};

// A vector of T with a free list: stable indices, no per-item allocation
// once warm.
template <class T>
class Pool {
 public:
  std::uint32_t put(T&& item) {
    if (!free_.empty()) {
      const std::uint32_t i = free_.back();
      free_.pop_back();
      items_[i] = std::move(item);
      return i;
    }
    items_.push_back(std::move(item));
    return static_cast<std::uint32_t>(items_.size() - 1);
  }
  T& at(std::uint32_t i) { return items_[i]; }
  // Moves the item out and frees its index.
  T take(std::uint32_t i) {
    T out = std::move(items_[i]);
    items_[i] = T{};
    free_.push_back(i);
    return out;
  }

 private:
  std::vector<T> items_;
  std::vector<std::uint32_t> free_;
};

struct InFlight {
  MessagePtr message;
  std::uint32_t from = 0;
  std::uint32_t size = 0;
  std::uint32_t incarnation = 0;  // of the receiver when sent
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

struct SimWorld::Impl {
  struct Node;

  // Charges CPU time to the node's running handler (ignored outside one, or
  // with the CPU model off).
  void charge(Node& n, std::int64_t ns);

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
    Node(Impl& w, std::uint32_t id_, NetworkId net, std::unique_ptr<Signer> s, const Verifier& v,
         LogicFactory f, std::uint64_t rng_seed)
        : id(id_),
          network(net),
          raw_store(open_memory_store()),
          store(w, *this),
          signer(w, *this, std::move(s)),
          verifier(w, *this, v),
          env(w, *this),
          factory(std::move(f)),
          rng(rng_seed) {}

    std::uint32_t id;
    NetworkId network;
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
    std::deque<Event> backlog;
    bool wake_pending = false;
    TimeUs wake_at = 0;
  };

  Impl(SimWorld& owner_, std::uint64_t seed_, NetworkModel net_, CpuModel cpu_)
      : owner(owner_), seed(seed_), network(std::move(net_)), cpu(cpu_), net_rng(seed_) {}

  // ---- helpers
  Node& node(NodeId id) {
    MHR_ASSERT_MSG(id.value < nodes.size(), "unknown node id");
    return *nodes[id.value];
  }
  const Node& node(NodeId id) const {
    MHR_ASSERT_MSG(id.value < nodes.size(), "unknown node id");
    return *nodes[id.value];
  }

  void push(TimeUs t, Kind kind, std::uint32_t node_id, std::uint32_t slot) {
    MHR_ASSERT_MSG(t >= now, "event scheduled in the past");
    heap.push(Event{t, (next_seq++ << 8) | static_cast<std::uint64_t>(kind), node_id, slot});
  }

  TimeUs node_now(const Node& n) const {
    return n.in_handler ? n.handler_start + (n.charge_ns + 500) / 1000 : now;
  }

  void begin_handler(Node& n) {
    MHR_ASSERT_MSG(!n.in_handler, "nested handler");
    MHR_ASSERT(n.busy_until <= now);
    n.in_handler = true;
    n.handler_start = now;
    n.charge_ns = 0;
  }
  void end_handler(Node& n) {
    const TimeUs end = n.handler_start + (n.charge_ns + 500) / 1000;
    if (end > n.busy_until) n.busy_until = end;
    n.in_handler = false;
    n.size_cache_message.reset();
  }

  bool partitioned(std::uint32_t a, std::uint32_t b, TimeUs t) const {
    for (const auto& ps : partitions) {
      if (!ps.partition.active_at(t)) continue;
      const std::int32_t ga = a < ps.group_of.size() ? ps.group_of[a] : -1;
      const std::int32_t gb = b < ps.group_of.size() ? ps.group_of[b] : -1;
      if (ga >= 0 && gb >= 0 && ga != gb) return true;
    }
    return false;
  }

  void drop(std::uint64_t& reason) {
    ++reason;
    ++stats.messages_dropped;
  }

  // ---- the Env operations
  void send(Node& n, NodeId to_id, MessagePtr message);
  TimerId set_timer(Node& n, TimeUs delay_us, std::uint64_t tag);
  void cancel_timer(Node& n, TimerId id);
  void reply(Node& n, ClientRequestId id, ClientReply reply);
  void log(Node& n, LogLevel level, std::string_view text);

  // ---- the event loop
  void dispatch(const Event& ev);
  // A node event reached its node at `now`: run it, or queue it behind the
  // CPU's current work.
  void arrive(Node& n, const Event& ev);
  void execute(Node& n, const Event& ev);
  void release(const Event& ev);  // frees the side slot of an unexecuted event
  void crash(Node& n);
  void restart(Node& n);

  SimWorld& owner;
  std::uint64_t seed;
  NetworkModel network;
  CpuModel cpu;
  Rng net_rng;

  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<PartitionState> partitions;

  EventHeap heap;
  std::uint64_t next_seq = 0;
  TimeUs now = 0;
  std::uint64_t events = 0;

  Pool<InFlight> in_flight;
  std::vector<TimerSlot> timers;
  std::vector<std::uint32_t> free_timers;
  Pool<ClientSlot> client_slots;
  Pool<ReplySlot> reply_slots;
  Pool<std::function<void()>> actions;
  std::map<ClientRequestId, PendingClient> pending;  // ordered: crash fails in id order
  ClientRequestId next_client_id = 1;

  SimStats stats;
  std::vector<SecondStats> per_second;
  std::vector<SimLogEntry> logs;
  std::uint64_t logs_dropped = 0;
  std::size_t log_limit = 10'000;
  bool verbose = false;

  ProgressCallback progress;
  std::uint64_t progress_every = 0;
};

// ---- CPU charging wrappers

void SimWorld::Impl::charge(Node& n, std::int64_t ns) {
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
  return w_.node_now(n_);
}
void SimWorld::Impl::SimEnv::send(NodeId to, MessagePtr message) {
  w_.send(n_, to, std::move(message));
}
TimerId SimWorld::Impl::SimEnv::set_timer(TimeUs delay_us, std::uint64_t tag) {
  return w_.set_timer(n_, delay_us, tag);
}
void SimWorld::Impl::SimEnv::cancel_timer(TimerId id) {
  w_.cancel_timer(n_, id);
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
  w_.reply(n_, id, std::move(reply));
}
void SimWorld::Impl::SimEnv::count(Counter c, std::int64_t delta) {
  const auto i = static_cast<std::size_t>(c);
  MHR_ASSERT(i < kCounterCount);
  w_.stats.counters[i] += delta;
  w_.stats.node_counters[n_.id][i] += delta;
}
void SimWorld::Impl::SimEnv::log(LogLevel level, std::string_view text) {
  w_.log(n_, level, text);
}

// ---- Env operations

void SimWorld::Impl::send(Node& n, NodeId to_id, MessagePtr message) {
  MHR_ASSERT_MSG(message != nullptr, "send of a null message");
  MHR_ASSERT_MSG(to_id.value < nodes.size(), "send to an unknown node");
  MHR_ASSERT_MSG(n.up, "send from a node that is down");
  Node& to = *nodes[to_id.value];

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
  const std::size_t type = message->index();
  ++stats.messages_total;
  ++(same_network ? stats.messages_intra : stats.messages_inter);
  stats.bytes_sent += size;
  ++stats.messages_by_type[type];
  stats.bytes_by_type[type] += size;
  const auto second = static_cast<std::size_t>(depart / kUsPerSecond);
  if (second >= per_second.size()) per_second.resize(second + 1);
  ++per_second[second].messages;
  per_second[second].bytes += size;
  if (owner.on_send) owner.on_send(NodeId{n.id}, to_id, *message);

  if (&to == &n) {  // loopback: no network, but still an event
    const std::uint32_t slot =
        in_flight.put(InFlight{std::move(message), n.id, size, n.incarnation});
    push(depart, Kind::kDeliver, n.id, slot);
    return;
  }

  const LinkClass& link = same_network ? network.intra : network.inter;
  // The sender's uplink serialises its messages one after another.
  const TimeUs tx_start = depart > n.uplink_free_at ? depart : n.uplink_free_at;
  const TimeUs on_wire = tx_start + link.serialisation_us(size);
  n.uplink_free_at = on_wire;

  if (!partitions.empty() && partitioned(n.id, to.id, depart)) return drop(stats.dropped_partition);
  if (link.loss > 0 && net_rng.bernoulli(link.loss)) return drop(stats.dropped_loss);
  const bool twice = link.duplicate > 0 && net_rng.bernoulli(link.duplicate);
  if (twice) {
    ++stats.messages_duplicated;
    const std::uint32_t slot = in_flight.put(InFlight{message, n.id, size, to.incarnation});
    push(on_wire + link.latency.sample(net_rng), Kind::kDeliver, to.id, slot);
  }
  const std::uint32_t slot =
      in_flight.put(InFlight{std::move(message), n.id, size, to.incarnation});
  push(on_wire + link.latency.sample(net_rng), Kind::kDeliver, to.id, slot);
}

TimerId SimWorld::Impl::set_timer(Node& n, TimeUs delay_us, std::uint64_t tag) {
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

void SimWorld::Impl::cancel_timer(Node& n, TimerId id) {
  const auto slot = static_cast<std::uint32_t>(id & 0xFFFFFFFFu);
  const auto generation = static_cast<std::uint32_t>(id >> 32);
  if (slot >= timers.size()) return;
  TimerSlot& t = timers[slot];
  // Fired, already cancelled, or reused: nothing to do.
  if (!t.live || t.generation != generation || t.node != n.id) return;
  t.cancelled = true;
}

void SimWorld::Impl::reply(Node& n, ClientRequestId id, ClientReply reply) {
  auto it = pending.find(id);
  if (it == pending.end()) return;  // lost in a crash, or answered already
  MHR_ASSERT_MSG(it->second.node == n.id, "a node replied to another node's client request");
  ReplySlot r{std::move(it->second.callback), std::move(reply)};
  pending.erase(it);
  const std::uint32_t slot = reply_slots.put(std::move(r));
  push(node_now(n), Kind::kReply, n.id, slot);
}

void SimWorld::Impl::log(Node& n, LogLevel level, std::string_view text) {
  const TimeUs t = node_now(n);
  if (verbose) {
    std::fprintf(stderr, "[%lld us] node %u %s: %.*s\n", static_cast<long long>(t), n.id,
                 log_level_name(level).data(), static_cast<int>(text.size()), text.data());
  }
  if (level < LogLevel::kWarn) return;
  if (logs.size() >= log_limit) {
    ++logs_dropped;
    return;
  }
  logs.push_back(SimLogEntry{t, NodeId{n.id}, level, std::string(text)});
}

// ---- event loop

void SimWorld::Impl::dispatch(const Event& ev) {
  switch (ev.kind()) {
    case Kind::kDeliver: {
      Node& n = *nodes[ev.node];
      InFlight& m = in_flight.at(ev.slot);
      if (!n.up || m.incarnation != n.incarnation) {
        in_flight.take(ev.slot);
        return drop(stats.dropped_down);
      }
      if (!partitions.empty() && partitioned(m.from, n.id, now)) {
        in_flight.take(ev.slot);
        return drop(stats.dropped_partition);
      }
      return arrive(n, ev);
    }
    case Kind::kTimer: {
      TimerSlot& t = timers[ev.slot];
      MHR_ASSERT(t.live && t.node == ev.node);
      Node& n = *nodes[ev.node];
      if (t.cancelled || !n.up || t.incarnation != n.incarnation) return release(ev);
      return arrive(n, ev);
    }
    case Kind::kClient: {
      Node& n = *nodes[ev.node];
      if (!pending.contains(client_slots.at(ev.slot).id)) return release(ev);  // failed at crash
      return arrive(n, ev);
    }
    case Kind::kStart: {
      Node& n = *nodes[ev.node];
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
      return crash(*nodes[ev.node]);
    case Kind::kRestart:
      return restart(*nodes[ev.node]);
    case Kind::kWake: {
      Node& n = *nodes[ev.node];
      if (!n.wake_pending || n.wake_at != now) return;  // stale (crash meanwhile)
      n.wake_pending = false;
      MHR_ASSERT(!n.backlog.empty() && n.busy_until <= now);
      const Event next = n.backlog.front();
      n.backlog.pop_front();
      execute(n, next);
      if (!n.backlog.empty() && n.up) {
        n.wake_pending = true;
        n.wake_at = n.busy_until > now ? n.busy_until : now;
        push(n.wake_at, Kind::kWake, n.id, 0);
      }
      return;
    }
  }
  MHR_ASSERT_MSG(false, "unknown event kind");
}

void SimWorld::Impl::arrive(Node& n, const Event& ev) {
  if (n.backlog.empty() && n.busy_until <= now) return execute(n, ev);
  n.backlog.push_back(ev);
  if (!n.wake_pending) {
    n.wake_pending = true;
    n.wake_at = n.busy_until > now ? n.busy_until : now;
    push(n.wake_at, Kind::kWake, n.id, 0);
  }
}

void SimWorld::Impl::execute(Node& n, const Event& ev) {
  MHR_ASSERT(n.up && n.logic != nullptr);
  switch (ev.kind()) {
    case Kind::kDeliver: {
      InFlight m = in_flight.take(ev.slot);
      begin_handler(n);
      charge(n,
             cpu.per_message_us * 1000 + llround_ns(static_cast<double>(m.size) * cpu.per_byte_ns));
      ++stats.messages_delivered;
      if (owner.on_deliver) owner.on_deliver(now, NodeId{m.from}, NodeId{n.id}, *m.message);
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
      charge(n, cpu.per_message_us * 1000);
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

void SimWorld::Impl::release(const Event& ev) {
  switch (ev.kind()) {
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

void SimWorld::Impl::crash(Node& n) {
  if (!n.up) return;
  ++stats.crashes;
  n.up = false;
  ++n.incarnation;  // in-flight messages and timers of the old life now miss
  n.logic.reset();
  for (const Event& ev : n.backlog) release(ev);
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

void SimWorld::Impl::restart(Node& n) {
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

// ---- SimWorld

SimWorld::SimWorld(std::uint64_t seed, NetworkModel network, CpuModel cpu)
    : impl_(std::make_unique<Impl>(*this, seed, std::move(network), cpu)) {}

SimWorld::~SimWorld() = default;

NodeId SimWorld::add_node(NetworkId network, std::unique_ptr<Signer> signer,
                          const Verifier& verifier, LogicFactory factory) {
  MHR_ASSERT_MSG(signer != nullptr, "add_node needs a signer");
  MHR_ASSERT_MSG(factory != nullptr, "add_node needs a logic factory");
  auto& w = *impl_;
  const auto id = static_cast<std::uint32_t>(w.nodes.size());
  w.nodes.push_back(std::make_unique<Impl::Node>(w, id, network, std::move(signer), verifier,
                                                 std::move(factory), mix_seed(w.seed, id + 1)));
  w.stats.node_counters.emplace_back();
  Impl::Node& n = *w.nodes.back();
  n.busy_until = w.now;
  n.logic = n.factory(n.env);
  MHR_ASSERT_MSG(n.logic != nullptr, "logic factory returned null");
  return NodeId{id};
}

void SimWorld::start_all() {
  auto& w = *impl_;
  for (auto& n : w.nodes) {
    if (n->started) continue;
    n->started = true;
    w.push(w.now, Kind::kStart, n->id, 0);
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
  auto& w = *impl_;
  w.node(node);  // validates the id
  MHR_ASSERT_MSG(crash_at_us < restart_at_us, "restart must come after the crash");
  w.push(crash_at_us, Kind::kCrash, node.value, 0);
  w.push(restart_at_us, Kind::kRestart, node.value, 0);
}

void SimWorld::at(TimeUs t, std::function<void()> fn) {
  MHR_ASSERT_MSG(fn != nullptr, "at() needs an action");
  auto& w = *impl_;
  const std::uint32_t slot = w.actions.put(std::move(fn));
  w.push(t, Kind::kAction, 0, slot);
}

void SimWorld::submit(NodeId node, ClientRequest request, ReplyCallback on_reply) {
  auto& w = *impl_;
  Impl::Node& n = w.node(node);
  const ClientRequestId id = w.next_client_id++;
  if (!n.up) {
    ++w.stats.client_replies;
    if (on_reply) on_reply(make_reply(ReplyStatus::kUnavailable, "node down"));
    return;
  }
  w.pending.emplace(id, PendingClient{n.id, std::move(on_reply)});
  const std::uint32_t slot = w.client_slots.put(ClientSlot{id, std::move(request)});
  w.push(w.now, Kind::kClient, n.id, slot);
}

void SimWorld::run_until(TimeUs end_us) {
  auto& w = *impl_;
  while (!w.heap.empty() && w.heap.top().time <= end_us) {
    const Event ev = w.heap.pop();
    MHR_ASSERT_MSG(ev.time >= w.now, "simulated time went backwards");
    w.now = ev.time;
    ++w.events;
    w.dispatch(ev);
    if (w.progress_every != 0 && w.events % w.progress_every == 0 && w.progress)
      w.progress(w.now, w.events);
  }
  if (end_us > w.now) w.now = end_us;
}

TimeUs SimWorld::now() const {
  return impl_->now;
}
std::uint64_t SimWorld::events_processed() const {
  return impl_->events;
}
std::size_t SimWorld::events_pending() const {
  return impl_->heap.size();
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
  return impl_->stats;
}
const std::vector<SecondStats>& SimWorld::per_second() const {
  return impl_->per_second;
}
const std::vector<SimLogEntry>& SimWorld::logs() const {
  return impl_->logs;
}
std::uint64_t SimWorld::logs_dropped() const {
  return impl_->logs_dropped;
}
void SimWorld::set_log_limit(std::size_t limit) {
  impl_->log_limit = limit;
}
void SimWorld::set_verbose(bool verbose) {
  impl_->verbose = verbose;
}

}  // namespace mhr
