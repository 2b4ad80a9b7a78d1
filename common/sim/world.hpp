// SimWorld: the discrete-event simulator. One event queue of simulated time
// drives every node's NodeLogic through a per-node Env (SimEnv) that models
// the network (latency, bandwidth, loss, duplication, partitions), each
// node's CPU (a single server charged for receiving, signing, verifying and
// committing), crashes with restarts from the kept store, and clients.
//
// Determinism: one seed gives one exact run. Events are ordered by (time,
// insertion sequence), all randomness comes from seeded PRNGs (one for the
// network, one stream per node for Env::random_u64), and no decision ever
// depends on the iteration order of an unordered container.
//
// Lanes (set_lanes): a world may be split by network into several event
// loops that run side by side on threads. Each lane publishes a clock (no
// event before it will run there any more) and runs only events earlier
// than every other lane's clock plus the shortest inter-network latency:
// nothing another lane does can reach it sooner (conservative
// synchronisation with lookahead). Each lane has its own network random
// stream, and a message from another lane carries the event key its sender
// gave it, so when it is taken in changes nothing: the run depends on the
// number of lanes, never on the number of threads. With one lane (the
// default) the world is the single loop described above.
//
// The world's methods are called from one thread. With several threads,
// lane events (handlers, lane actions, reply callbacks, the observer hooks)
// run on the lanes' threads and may touch only their own lane's nodes.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/client_api.hpp"
#include "common/crypto.hpp"
#include "common/env.hpp"
#include "common/messages.hpp"
#include "common/sim/cpu_model.hpp"
#include "common/sim/network_model.hpp"
#include "common/store.hpp"
#include "common/types.hpp"

namespace mhr {

// Lanes are few: each is an event loop with its own pools and statistics.
inline constexpr std::uint32_t kMaxSimLanes = 64;

struct SimStats {
  // Sends, counted when sent (whether or not delivered later). A duplicated
  // message is one send; a message to self counts as intra.
  std::uint64_t messages_total = 0;
  std::uint64_t messages_intra = 0;
  std::uint64_t messages_inter = 0;
  std::uint64_t bytes_sent = 0;
  // Messages (copies) that never reached a handler: the sum of the reasons.
  std::uint64_t messages_dropped = 0;
  std::uint64_t dropped_loss = 0;
  std::uint64_t dropped_partition = 0;
  std::uint64_t dropped_down = 0;  // receiver down or restarted meanwhile
  std::uint64_t messages_duplicated = 0;
  std::uint64_t messages_delivered = 0;  // handler calls
  std::array<std::uint64_t, kMessageTypeCount> messages_by_type{};
  std::array<std::uint64_t, kMessageTypeCount> bytes_by_type{};
  // Env::count, summed over nodes (per node: SimWorld::node_counters).
  std::array<std::int64_t, kCounterCount> counters{};
  std::uint64_t timers_fired = 0;
  std::uint64_t client_requests = 0;
  std::uint64_t client_replies = 0;
  std::uint64_t crashes = 0;
  std::uint64_t restarts = 0;

  // Adds `other`'s counts (not its node_counters) to these.
  void add(const SimStats& other);
};

// Sends per simulated second (by the second they were sent in).
struct SecondStats {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
};

struct SimLogEntry {
  TimeUs time_us = 0;
  NodeId node;
  LogLevel level = LogLevel::kWarn;
  std::string text;
};

class SimWorld {
 public:
  using LogicFactory = std::function<std::unique_ptr<NodeLogic>(Env&)>;
  using ReplyCallback = std::function<void(const ClientReply&)>;
  using ProgressCallback = std::function<void(TimeUs sim_now, std::uint64_t events)>;

  using NodeCounters = std::array<std::int64_t, kCounterCount>;

  SimWorld(std::uint64_t seed, NetworkModel network = {}, CpuModel cpu = {});
  ~SimWorld();
  SimWorld(const SimWorld&) = delete;
  SimWorld& operator=(const SimWorld&) = delete;

  // ---- building the world
  // Splits the world into `lanes` event loops (a node's lane is its network
  // modulo `lanes`) run on `threads` threads (at most `lanes`). Call before
  // add_node. Several lanes need network().inter.latency.lower_bound_us() > 0:
  // it is their lookahead.
  void set_lanes(std::uint32_t lanes, std::uint32_t threads);
  std::uint32_t lane_count() const;
  std::uint32_t thread_count() const;
  std::uint32_t lane_of(NodeId node) const;

  // Ids are dense from 0 in call order. The node owns a memory store that
  // survives its crashes. The factory is called now (the logic exists, not
  // started) and again at every restart. `verifier` must outlive the world.
  NodeId add_node(NetworkId network, std::unique_ptr<Signer> signer, const Verifier& verifier,
                  LogicFactory factory);
  // Schedules start() of every node not yet started, in id order, at now()
  // (time 0 before the run).
  void start_all();
  void add_partition(Partition partition);
  // Crash: the logic is destroyed, its timers never fire, messages in flight
  // to it are dropped, its pending client requests get kUnavailable. Restart:
  // a new logic from the factory, start() called; the store is kept.
  void schedule_crash(NodeId node, TimeUs crash_at_us, TimeUs restart_at_us);

  // ---- driving it
  // A driver action (workload, checks) at simulated time t >= now(). Called
  // from a lane's event, it runs in that lane; otherwise, with one lane it
  // runs in it, and with several when every lane has reached t.
  void at(TimeUs t, std::function<void()> fn);
  // A driver action run in `lane` (on its thread, by its clock); it may
  // submit only to that lane's nodes.
  void at_lane(std::uint32_t lane, TimeUs t, std::function<void()> fn);
  // Hands `request` to the node's on_client at now() (as an event). on_reply
  // runs at the simulated time the node replies; at once with kUnavailable
  // ("node down") if the node is down, or at the crash ("node crashed") if
  // it crashes before replying.
  void submit(NodeId node, ClientRequest request, ReplyCallback on_reply);
  // Runs every event at or before end_us, then sets now() to end_us.
  void run_until(TimeUs end_us);
  // In a lane's event: that lane's time. Otherwise: the time every lane
  // has reached.
  TimeUs now() const;
  std::uint64_t events_processed() const;
  std::size_t events_pending() const;
  // Called every `every_events` events (0 disables).
  void set_progress(ProgressCallback callback, std::uint64_t every_events);

  // ---- looking inside
  std::size_t node_count() const;
  NetworkId network_of(NodeId node) const;
  Store& store_of(NodeId node);      // the raw store (no CPU charges)
  NodeLogic* logic_of(NodeId node);  // nullptr while down
  Env& env_of(NodeId node);
  bool is_up(NodeId node) const;
  TimeUs busy_until(NodeId node) const;  // the node's CPU is busy until then
  const NetworkModel& network() const;
  const CpuModel& cpu() const;

  // Summed over lanes when asked.
  const SimStats& stats() const;
  const std::vector<SecondStats>& per_second() const;
  // Env::count per node (indexed by NodeId).
  const std::vector<NodeCounters>& node_counters() const;

  // Env::log at kWarn and above, first `limit` per lane kept (default
  // 10'000), in time order.
  const std::vector<SimLogEntry>& logs() const;
  std::uint64_t logs_dropped() const;
  void set_log_limit(std::size_t limit);
  // Prints every log line (debug and info too) to stderr.
  void set_verbose(bool verbose);

  // ---- observer hooks (tests, traces); called synchronously, on the
  // sender's or receiver's lane
  // At every send, before any drop decision.
  std::function<void(NodeId from, NodeId to, const Message&)> on_send;
  // Just before on_message, at the handler's start time.
  std::function<void(TimeUs at, NodeId from, NodeId to, const Message&)> on_deliver;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mhr
