// Scenarios: one YAML file describes a simulated deployment — topology,
// protocol modes, network model, CPU model, workload, faults and reports.
// load_scenario() parses and validates it completely (every map refuses
// unknown keys, every error names file:line and the key), so the simulator
// and the launcher only ever see a consistent Scenario. docs/SCENARIOS.md
// lists every key with its default.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/record.hpp"
#include "common/sim/network_model.hpp"
#include "common/topology.hpp"
#include "common/types.hpp"

namespace mhr {

// The protocol variants a scenario can compare on one workload.
enum class ScenarioMode : std::uint8_t {
  kBroadcast,  // published protocol: broadcast presence, sparse storage
  kTable,      // presence from the sharing table, sparse storage
  kFull,       // full replication (broadcast presence): an ordinary blockchain
};
std::string_view scenario_mode_name(ScenarioMode m);
std::optional<ScenarioMode> parse_scenario_mode(std::string_view name);

// Where nodes are and what they are called. Node ids are dense, in this
// order: for each network n its record nodes "net<n>.r<k>", its consensus
// node(s) "net<n>.c<k>", then its index node "net<n>.i".
struct TopologyLayout {
  struct Network {
    std::uint32_t first_record = 0;  // node id of net<n>.r0
    std::uint32_t record_count = 0;
    std::uint32_t first_consensus = 0;
    std::uint32_t consensus_count = 0;
    std::uint32_t index = 0;  // node id of net<n>.i
  };
  std::vector<Network> networks;
  std::uint32_t node_count = 0;
  std::uint64_t record_node_count = 0;

  static TopologyLayout build(const std::vector<std::uint32_t>& record_nodes_per_network,
                              std::uint32_t consensus_per_network);

  std::size_t network_count() const { return networks.size(); }
  NodeId record_node(std::uint32_t network, std::uint32_t k) const;
  NodeId consensus_node(std::uint32_t network, std::uint32_t k = 0) const;
  NodeId index_node(std::uint32_t network) const;
  // Preconditions: id < node_count.
  NetworkId network_of(NodeId id) const;
  NodeRole role_of(NodeId id) const;
  std::string name_of(NodeId id) const;
  // Parses a canonical node name ("net2.r17", "net0.c0", "net1.i").
  std::optional<NodeId> find_node(std::string_view name) const;
  // Parses a network name ("net3").
  std::optional<std::uint32_t> find_network(std::string_view name) const;
  // All nodes of a network (record, consensus, index), in id order.
  std::vector<NodeId> nodes_of(std::uint32_t network) const;
};

// Where a node (or a network) named in the file sits, for later errors.
struct SourceRef {
  std::string file;
  int line = 0;
};

struct Scenario {
  // ---- where it came from
  std::string file;                    // the YAML path as given
  std::vector<std::string> overrides;  // "--set" assignments, in order applied

  // ---- identity
  std::string name;  // default: file stem
  std::string description;
  std::uint64_t seed = 1;
  TimeUs duration_us = 0;  // required

  std::vector<ScenarioMode> modes{ScenarioMode::kBroadcast};

  // ---- topology
  std::vector<std::uint32_t> record_nodes;  // per network
  std::uint32_t consensus_nodes = 1;        // per network
  TopologyLayout layout;

  // ---- network model
  enum class LatencyDist : std::uint8_t { kConstant, kUniform, kLognormal };
  struct Latency {
    LatencyDist dist = LatencyDist::kConstant;
    TimeUs value_us = 0;               // constant
    TimeUs min_us = 0, max_us = 0;     // uniform, inclusive
    TimeUs median_us = 0;              // lognormal
    double sigma = 0;                  // lognormal: std-dev of ln(latency)
    TimeUs floor_us = 0;               // lognormal: no draw below it
    ::mhr::LatencyDist model() const;  // what the simulator draws from
  };
  struct LinkClass {
    Latency latency;
    std::uint64_t bandwidth_bps = 0;  // bits per second; 0 = unlimited
    double loss = 0;                  // probability a message is dropped
    double duplicate = 0;             // probability a message is delivered twice
  };
  LinkClass intra;  // between nodes of one network
  LinkClass inter;  // between nodes of different networks
  struct Partition {
    TimeUs start_us = 0;
    TimeUs end_us = 0;  // healed at end_us
    // Nodes of different groups cannot reach each other while the partition
    // lasts; nodes listed in no group are unaffected.
    std::vector<std::vector<NodeId>> groups;
    // Per node id: the group index, or -1 when the node is in no group.
    std::vector<std::int32_t> node_groups(std::size_t node_count) const;
  };
  std::vector<Partition> partitions;

  // ---- protocol (presence, replication set per mode by protocol_params())
  ProtocolParams protocol;

  // ---- CPU model
  struct Cpu {
    bool enabled = true;
    TimeUs sign_us = 13;
    TimeUs verify_us = 30;
    TimeUs store_commit_us = 350;
    TimeUs per_message_us = 2;
    double per_byte_ns = 0.5;        // per byte sent or received
    double store_per_byte_ns = 1.0;  // per byte written to the store
  };
  Cpu cpu;

  // ---- workload
  struct ExplicitMigration {
    TimeUs at_us = 0;
    std::uint32_t user = 0;
    NodeId to;
  };
  struct PinnedUser {  // fixed initial registrations instead of random ones
    std::uint32_t user = 0;
    std::vector<NodeId> nodes;
    std::optional<TimeUs> at_us;  // default: random in the registration window
  };
  struct Workload {
    std::uint32_t users = 0;
    double multi_network_fraction = 0.1;
    std::uint32_t nodes_per_network = 1;
    TimeUs registration_window_us = 1 * kUsPerSecond;
    double record_rate = 0;  // records per simulated second, whole system
    TimeUs start_us = 0;
    TimeUs stop_us = 0;
    std::uint32_t payload_min = 512;
    std::uint32_t payload_max = 2048;
    std::vector<std::string> content_types;
    std::array<double, kCategoryCount> category_weights{};
    std::vector<PinnedUser> pinned;
    // Random migrations.
    std::uint32_t migration_count = 0;
    double migration_within_fraction = 0.5;
    TimeUs migration_from_us = 0;
    TimeUs migration_to_us = 0;
    std::vector<ExplicitMigration> explicit_migrations;
  };
  Workload workload;

  // ---- faults
  struct Crash {
    NodeId node;
    TimeUs at_us = 0;
    std::optional<TimeUs> restart_us;  // none: stays down
  };
  std::vector<Crash> crashes;
  // Faults drawn afresh from each run's seed (mhr sim --sweep): crashes with
  // restarts, loss and duplication, partitions that heal. The seed alone
  // replays them: `mhr sim FILE --seed S`.
  struct RandomFaults {
    bool enabled = false;
    std::uint32_t crashes = 0;
    TimeUs down_min_us = 200 * kUsPerMs, down_max_us = 3 * kUsPerSecond;
    double loss_max = 0, duplicate_max = 0;
    std::uint32_t partitions = 0;
    TimeUs partition_min_us = 500 * kUsPerMs, partition_max_us = 4 * kUsPerSecond;
    TimeUs from_us = 0, to_us = 0;  // faults start within [from, to)
    // Byzantine consensus replicas drawn per seed, at most f per group,
    // each with a behaviour drawn from those of a replica.
    std::uint32_t byzantine = 0;
  };
  RandomFaults random_faults;
  // Replicas that run the honest consensus code but lie on the wire
  // (tools/sim/faults.hpp); a group of 3f+1 tolerates f of them.
  enum class Byzantine : std::uint8_t {
    kEquivocate,        // as leader, a second valid block at each height to half the group
    kWithholdVotes,     // sends no votes and no view changes
    kWithholdBlocks,    // sends no proposals, deliveries or committed blocks
    kBadSignatures,     // every signature it sends is damaged
    kWrongHolders,      // as leader, proposes blocks that send records to a non-holder too
    kLeakRecords,       // as leader, delivers every block's records to every record node
    kForgedPresence,    // a record node: every presence flag it sends says the opposite
    kReplayOld,         // now and then sends again a message it sent long before
    kForgedMembership,  // an index node: claims patients it has no registration of
  };
  struct ByzantineReplica {
    NodeId node;
    Byzantine behaviour = Byzantine::kEquivocate;
  };
  std::vector<ByzantineReplica> byzantine;

  // ---- report
  bool report_timeseries = true;
  bool report_html = true;

  // The simulator's parallel event loops (networks split among them); the
  // run depends on it, while the threads that run them do not change it.
  std::uint32_t lanes = 1;

  std::size_t network_count() const { return record_nodes.size(); }
  std::size_t node_count() const { return layout.node_count; }
};

// A Byzantine behaviour's name in scenarios and reports, and back; all names.
std::string_view byzantine_behaviour_name(Scenario::Byzantine b);
std::optional<Scenario::Byzantine> parse_byzantine_behaviour(std::string_view name);
std::string byzantine_behaviour_names();

// Reads, overrides ("key=value", applied before validation) and validates a
// scenario. Throws ConfigError naming file:line and key.
Scenario load_scenario(const std::string& path, const std::vector<std::string>& overrides = {});
// The same from text; `name` stands for the file in errors.
Scenario load_scenario_string(const std::string& text, const std::string& name,
                              const std::vector<std::string>& overrides = {});

// The protocol parameters of one mode of the scenario.
ProtocolParams protocol_params(const Scenario& s, ScenarioMode mode);

struct NodeSpec {
  NodeId id;
  NodeRole role = NodeRole::kRecord;
  NetworkId network;
  std::string name;
};
// Every node, in id order, so a runtime can create keys before the topology.
std::vector<NodeSpec> node_specs(const Scenario& s);

// The topology of the scenario; keys are indexed by node id. Throws
// std::invalid_argument when keys.size() != node count.
Topology make_topology(const Scenario& s, const ProtocolParams& params,
                       const std::vector<PublicKey>& keys);

std::optional<NodeId> find_node(const Scenario& s, std::string_view name);

}  // namespace mhr
