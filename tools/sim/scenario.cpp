#include "tools/sim/scenario.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>
#include <stdexcept>

#include "common/assert.hpp"
#include "common/bft/agreement.hpp"
#include "common/blob.hpp"
#include "common/config.hpp"
#include "common/entry.hpp"
#include "common/messages.hpp"
#include "common/sim/world.hpp"

namespace mhr {

// ---------------------------------------------------------------- modes

::mhr::LatencyDist Scenario::Latency::model() const {
  switch (dist) {
    case LatencyDist::kConstant:
      return ::mhr::LatencyDist::constant(value_us);
    case LatencyDist::kUniform:
      return ::mhr::LatencyDist::uniform(min_us, max_us);
    case LatencyDist::kLognormal:
      return ::mhr::LatencyDist::lognormal(median_us, sigma, floor_us);
  }
  return ::mhr::LatencyDist::constant(value_us);
}

std::string_view scenario_mode_name(ScenarioMode m) {
  switch (m) {
    case ScenarioMode::kBroadcast:
      return "broadcast";
    case ScenarioMode::kTable:
      return "table";
    case ScenarioMode::kFull:
      return "full";
  }
  return "?";
}

namespace {

constexpr std::pair<std::string_view, Scenario::Byzantine> kByzantineBehaviours[] = {
    {"equivocate", Scenario::Byzantine::kEquivocate},
    {"withhold_votes", Scenario::Byzantine::kWithholdVotes},
    {"withhold_blocks", Scenario::Byzantine::kWithholdBlocks},
    {"bad_signatures", Scenario::Byzantine::kBadSignatures},
    {"wrong_holders", Scenario::Byzantine::kWrongHolders},
    {"leak_records", Scenario::Byzantine::kLeakRecords},
    {"forged_presence", Scenario::Byzantine::kForgedPresence},
    {"replay_old", Scenario::Byzantine::kReplayOld},
    {"forged_membership", Scenario::Byzantine::kForgedMembership},
};

}  // namespace

std::string_view byzantine_behaviour_name(Scenario::Byzantine b) {
  for (const auto& [name, value] : kByzantineBehaviours)
    if (value == b) return name;
  MHR_ASSERT_MSG(false, "a Byzantine behaviour without a name");
  return {};
}

std::optional<Scenario::Byzantine> parse_byzantine_behaviour(std::string_view name) {
  for (const auto& [key, value] : kByzantineBehaviours)
    if (key == name) return value;
  return std::nullopt;
}

std::string byzantine_behaviour_names() {
  std::string out;
  for (const auto& [name, value] : kByzantineBehaviours)
    out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

std::optional<ScenarioMode> parse_scenario_mode(std::string_view name) {
  if (name == "broadcast") return ScenarioMode::kBroadcast;
  if (name == "table") return ScenarioMode::kTable;
  if (name == "full") return ScenarioMode::kFull;
  return std::nullopt;
}

ProtocolParams protocol_params(const Scenario& s, ScenarioMode mode) {
  ProtocolParams p = s.protocol;
  switch (mode) {
    case ScenarioMode::kBroadcast:
      p.presence = PresenceMode::kBroadcast;
      p.replication = Replication::kSparse;
      break;
    case ScenarioMode::kTable:
      p.presence = PresenceMode::kTable;
      p.replication = Replication::kSparse;
      break;
    case ScenarioMode::kFull:
      p.presence = PresenceMode::kBroadcast;
      p.replication = Replication::kFull;
      break;
  }
  return p;
}

// ---------------------------------------------------------------- layout

TopologyLayout TopologyLayout::build(const std::vector<std::uint32_t>& record_nodes_per_network,
                                     std::uint32_t consensus_per_network) {
  TopologyLayout l;
  std::uint64_t next = 0;
  for (std::uint32_t count : record_nodes_per_network) {
    Network n;
    n.first_record = static_cast<std::uint32_t>(next);
    n.record_count = count;
    next += count;
    n.first_consensus = static_cast<std::uint32_t>(next);
    n.consensus_count = consensus_per_network;
    next += consensus_per_network;
    n.index = static_cast<std::uint32_t>(next);
    next += 1;
    MHR_ASSERT_MSG(next <= std::numeric_limits<std::uint32_t>::max(), "too many nodes");
    l.record_node_count += count;
    l.networks.push_back(n);
  }
  l.node_count = static_cast<std::uint32_t>(next);
  return l;
}

NodeId TopologyLayout::record_node(std::uint32_t network, std::uint32_t k) const {
  MHR_ASSERT(network < networks.size() && k < networks[network].record_count);
  return NodeId{networks[network].first_record + k};
}

NodeId TopologyLayout::consensus_node(std::uint32_t network, std::uint32_t k) const {
  MHR_ASSERT(network < networks.size() && k < networks[network].consensus_count);
  return NodeId{networks[network].first_consensus + k};
}

NodeId TopologyLayout::index_node(std::uint32_t network) const {
  MHR_ASSERT(network < networks.size());
  return NodeId{networks[network].index};
}

NetworkId TopologyLayout::network_of(NodeId id) const {
  MHR_ASSERT(id.value < node_count);
  auto it = std::upper_bound(networks.begin(), networks.end(), id.value,
                             [](std::uint32_t v, const Network& n) { return v < n.first_record; });
  MHR_ASSERT(it != networks.begin());
  return NetworkId{static_cast<std::uint32_t>(it - networks.begin() - 1)};
}

NodeRole TopologyLayout::role_of(NodeId id) const {
  const Network& n = networks[network_of(id).value];
  if (id.value < n.first_consensus) return NodeRole::kRecord;
  if (id.value < n.index) return NodeRole::kConsensus;
  return NodeRole::kIndex;
}

std::string TopologyLayout::name_of(NodeId id) const {
  const std::uint32_t net = network_of(id).value;
  const Network& n = networks[net];
  std::string out = "net" + std::to_string(net);
  switch (role_of(id)) {
    case NodeRole::kRecord:
      return out + ".r" + std::to_string(id.value - n.first_record);
    case NodeRole::kConsensus:
      return out + ".c" + std::to_string(id.value - n.first_consensus);
    case NodeRole::kIndex:
      return out + ".i";
  }
  return out;
}

namespace {

// Parses a decimal number at the front of s and removes it.
std::optional<std::uint32_t> take_number(std::string_view& s) {
  std::uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr == s.data()) return std::nullopt;
  s.remove_prefix(static_cast<std::size_t>(ptr - s.data()));
  return v;
}

}  // namespace

std::optional<std::uint32_t> TopologyLayout::find_network(std::string_view name) const {
  if (!name.starts_with("net")) return std::nullopt;
  std::string_view rest = name.substr(3);
  auto n = take_number(rest);
  if (!n || !rest.empty() || *n >= networks.size()) return std::nullopt;
  if ("net" + std::to_string(*n) != name) return std::nullopt;  // "net01"
  return *n;
}

std::optional<NodeId> TopologyLayout::find_node(std::string_view name) const {
  if (!name.starts_with("net")) return std::nullopt;
  std::string_view rest = name.substr(3);
  auto net = take_number(rest);
  if (!net || *net >= networks.size() || rest.size() < 2 || rest[0] != '.') return std::nullopt;
  const Network& n = networks[*net];
  const char kind = rest[1];
  rest.remove_prefix(2);
  std::optional<NodeId> id;
  if (kind == 'i') {
    if (rest.empty()) id = NodeId{n.index};
  } else if (kind == 'r' || kind == 'c') {
    auto k = take_number(rest);
    if (k && rest.empty()) {
      if (kind == 'r' && *k < n.record_count) id = NodeId{n.first_record + *k};
      if (kind == 'c' && *k < n.consensus_count) id = NodeId{n.first_consensus + *k};
    }
  }
  if (!id || name_of(*id) != name) return std::nullopt;  // leading zeros
  return id;
}

std::vector<NodeId> TopologyLayout::nodes_of(std::uint32_t network) const {
  MHR_ASSERT(network < networks.size());
  std::vector<NodeId> out;
  const Network& n = networks[network];
  for (std::uint32_t id = n.first_record; id <= n.index; ++id) out.push_back(NodeId{id});
  return out;
}

std::vector<std::int32_t> Scenario::Partition::node_groups(std::size_t node_count) const {
  std::vector<std::int32_t> out(node_count, -1);
  for (std::size_t g = 0; g < groups.size(); ++g)
    for (NodeId id : groups[g])
      if (id.value < node_count) out[id.value] = static_cast<std::int32_t>(g);
  return out;
}

// ---------------------------------------------------------------- parsing

namespace {

constexpr std::int64_t kMaxNetworks = 100'000;
constexpr std::int64_t kMaxRecordNodes = 1'000'000;
constexpr std::int64_t kMaxUsers = 100'000'000;
constexpr TimeUs kMaxDuration = 365LL * 24 * 3600 * kUsPerSecond;

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

TimeUs duration_in(const ConfigNode& n, TimeUs min, TimeUs max, const char* what) {
  TimeUs v = n.as_duration_us();
  if (v < min || v > max) n.fail(std::string("expected ") + what);
  return v;
}

TimeUs positive_duration(const ConfigNode& n) {
  return duration_in(n, 1, kMaxDuration, "a duration greater than zero");
}

// "1Gbps", "100 Mbps", "10MB/s", "1.5 GiB/s", "0", "unlimited" -> bits/s.
std::uint64_t parse_bandwidth(const ConfigNode& n) {
  const std::string expected =
      "a bandwidth in bits (e.g. 1Gbps, 100Mbps, 500kbps) or bytes (e.g. 10MB/s, 1GiB/s), or "
      "0 / unlimited";
  if (!n.yaml().IsScalar()) n.fail("expected " + expected);
  const std::string raw = n.yaml().Scalar();
  const std::string_view s = trim(raw);
  if (s == "unlimited") return 0;
  std::size_t i = 0;
  bool digits = false;
  bool point = false;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      digits = true;
    } else if (s[i] == '.' && !point) {
      point = true;
    } else {
      break;
    }
  }
  if (!digits) n.fail("expected " + expected + ", got '" + raw + "'");
  const std::string number(s.substr(0, i));
  std::string_view unit = trim(s.substr(i));
  double value = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || ptr != number.data() + number.size())
    n.fail("expected " + expected + ", got '" + raw + "'");
  if (unit.empty()) {
    if (value == 0) return 0;
    n.fail("bandwidth '" + raw +
           "' needs a unit: bits (e.g. 100Mbps) or bytes (e.g. 10MB/s); 0 means unlimited");
  }
  double mult = 1;
  if (!unit.empty() && std::string_view("kKMGT").find(unit.front()) != std::string_view::npos) {
    const bool binary = unit.size() > 1 && unit[1] == 'i';
    const double base = binary ? 1024.0 : 1000.0;
    int power = 0;
    switch (unit.front()) {
      case 'k':
      case 'K':
        power = 1;
        break;
      case 'M':
        power = 2;
        break;
      case 'G':
        power = 3;
        break;
      case 'T':
        power = 4;
        break;
      default:
        break;
    }
    mult = std::pow(base, power);
    unit.remove_prefix(binary ? 2 : 1);
  }
  if (unit == "bps" || unit == "bit/s" || unit == "b/s") {
    // bits
  } else if (unit == "Bps" || unit == "B/s") {
    mult *= 8;
  } else {
    n.fail("unknown bandwidth unit in '" + raw + "': use bps, kbps, Mbps, Gbps (bits) or B/s, " +
           "KB/s, MB/s, GB/s, MiB/s (bytes)");
  }
  const double bits = std::round(value * mult);
  if (!(bits < 1.8e19)) n.fail("bandwidth '" + raw + "' is too large");
  return static_cast<std::uint64_t>(bits);
}

void parse_latency(const ConfigNode& n, Scenario::Latency& out) {
  if (n.yaml().IsScalar()) {  // shorthand: a constant
    out = Scenario::Latency{};
    out.value_us = duration_in(n, 0, kMaxDuration, "a non-negative latency");
    return;
  }
  n.allow_only({"dist", "value", "min", "max", "median", "sigma", "floor"});
  Scenario::Latency l;
  std::string dist = "constant";
  if (auto d = n.optional("dist")) dist = d->as_enum({"constant", "uniform", "lognormal"});
  auto refuse = [&](std::initializer_list<std::string_view> keys) {
    for (auto k : keys)
      if (auto c = n.optional(k)) c->fail("does not apply to dist " + dist);
  };
  if (dist == "constant") {
    l.dist = Scenario::LatencyDist::kConstant;
    refuse({"min", "max", "median", "sigma", "floor"});
    l.value_us = duration_in(n.required("value"), 0, kMaxDuration, "a non-negative latency");
  } else if (dist == "uniform") {
    l.dist = Scenario::LatencyDist::kUniform;
    refuse({"value", "median", "sigma", "floor"});
    l.min_us = duration_in(n.required("min"), 0, kMaxDuration, "a non-negative latency");
    auto mx = n.required("max");
    l.max_us = duration_in(mx, 0, kMaxDuration, "a non-negative latency");
    if (l.max_us < l.min_us) mx.fail("max must be at least min");
  } else {
    l.dist = Scenario::LatencyDist::kLognormal;
    refuse({"value", "min", "max"});
    l.median_us = duration_in(n.required("median"), 0, kMaxDuration, "a non-negative latency");
    l.sigma = n.required("sigma").as_double(0, 10);
    if (auto f = n.optional("floor"))
      l.floor_us = duration_in(*f, 0, kMaxDuration, "a non-negative latency");
  }
  out = l;
}

// Several lanes run side by side, each no further than the shortest
// inter-network latency past the others: without one they could not.
void parse_simulator(const ConfigNode& n, Scenario& s) {
  n.allow_only({"lanes"});
  auto lanes = n.optional("lanes");
  if (!lanes) return;
  s.lanes = static_cast<std::uint32_t>(n.get_int("lanes", 1, 1, kMaxSimLanes));
  if (s.lanes > s.layout.network_count())
    lanes->fail("at most one lane per network (" + std::to_string(s.layout.network_count()) +
                " networks)");
  if (s.lanes > 1 && s.inter.latency.model().lower_bound_us() <= 0)
    lanes->fail(
        "several lanes need a lower bound above 0 on inter-network latency "
        "(network.inter.latency: a constant, a uniform min, or a lognormal floor)");
}

void parse_link(const ConfigNode& n, Scenario::LinkClass& out) {
  n.allow_only({"latency", "bandwidth", "loss", "duplicate"});
  if (auto l = n.optional("latency")) parse_latency(*l, out.latency);
  if (auto b = n.optional("bandwidth")) out.bandwidth_bps = parse_bandwidth(*b);
  out.loss = n.get_double("loss", out.loss, 0, 1);
  out.duplicate = n.get_double("duplicate", out.duplicate, 0, 1);
}

NodeId resolve_node(const Scenario& s, const ConfigNode& n) {
  const std::string name = n.as_string();
  auto id = s.layout.find_node(name);
  if (!id)
    n.fail("unknown node '" + name + "' (names look like net0.r0, net0.c0, net0.i; this " +
           "scenario has " + std::to_string(s.network_count()) + " network(s))");
  return *id;
}

NodeId resolve_record_node(const Scenario& s, const ConfigNode& n) {
  NodeId id = resolve_node(s, n);
  if (s.layout.role_of(id) != NodeRole::kRecord)
    n.fail("'" + n.as_string() + "' is not a record node (record nodes are net<n>.r<k>)");
  return id;
}

template <typename F>
void for_each_item(const ConfigNode& seq, F&& f) {
  if (!seq.yaml().IsDefined() || seq.yaml().IsNull()) return;
  if (!seq.is_sequence()) seq.fail("expected a list");
  for (std::size_t i = 0; i < seq.size(); ++i) f(seq.at(i));
}

void parse_topology(const ConfigNode& t, Scenario& s) {
  t.allow_only(
      {"networks", "record_nodes", "record_nodes_per_network", "consensus_nodes", "index_order"});
  if (auto o = t.optional("index_order"))
    s.protocol.index_order =
        o->as_enum({"chain", "direct"}) == "chain" ? IndexOrder::kChain : IndexOrder::kDirect;
  auto nets = t.optional("networks");
  auto per = t.optional("record_nodes");
  auto list = t.optional("record_nodes_per_network");
  if (per && list)
    list->fail("give either topology.record_nodes or topology.record_nodes_per_network, not both");
  if (list) {
    if (!list->is_sequence()) list->fail("expected a list of record node counts, one per network");
    if (list->size() == 0) list->fail("expected at least one network");
    for_each_item(*list, [&](const ConfigNode& c) {
      s.record_nodes.push_back(static_cast<std::uint32_t>(c.as_int(1, kMaxRecordNodes)));
    });
    if (nets) {
      auto count = nets->as_int(1, kMaxNetworks);
      if (static_cast<std::size_t>(count) != s.record_nodes.size())
        list->fail("record_nodes_per_network has " + std::to_string(s.record_nodes.size()) +
                   " entries but topology.networks is " + std::to_string(count));
    }
  } else {
    if (!nets) t.required("networks");  // throws: missing
    if (!per) t.required("record_nodes");
    auto count = nets->as_int(1, kMaxNetworks);
    auto r = static_cast<std::uint32_t>(per->as_int(1, kMaxRecordNodes));
    s.record_nodes.assign(static_cast<std::size_t>(count), r);
  }
  if (s.record_nodes.size() > static_cast<std::size_t>(kMaxNetworks))
    list->fail("at most " + std::to_string(kMaxNetworks) + " networks");
  if (auto c = t.optional("consensus_nodes")) {
    auto v = c->as_int(1, static_cast<std::int64_t>(kMaxGroupReplicas));
    if ((v - 1) % 3 != 0)
      c->fail(
          "a consensus group has 3f+1 replicas to tolerate f faulty ones: 1, 4, 7, 10, ...; "
          "got " +
          std::to_string(v));
    s.consensus_nodes = static_cast<std::uint32_t>(v);
  }
  std::uint64_t total = 0;
  for (auto r : s.record_nodes) total += r + s.consensus_nodes + 1;
  if (total > (1ull << 31)) t.fail("too many nodes (" + std::to_string(total) + ")");
  s.layout = TopologyLayout::build(s.record_nodes, s.consensus_nodes);
}

void parse_network(const ConfigNode& n, Scenario& s) {
  n.allow_only({"intra", "inter", "partitions"});
  if (auto c = n.optional("intra")) parse_link(*c, s.intra);
  if (auto c = n.optional("inter")) parse_link(*c, s.inter);
  if (auto ps = n.optional("partitions")) {
    for_each_item(*ps, [&](const ConfigNode& p) {
      p.allow_only({"start", "end", "groups"});
      Scenario::Partition part;
      part.start_us = duration_in(p.required("start"), 0, kMaxDuration, "a start time");
      auto end = p.required("end");
      part.end_us = duration_in(end, 0, kMaxDuration, "an end time");
      if (part.end_us <= part.start_us) end.fail("end must be after start");
      auto groups = p.required("groups");
      if (!groups.is_sequence() || groups.size() < 2)
        groups.fail("expected a list of at least two groups (each a list of names)");
      std::set<std::uint32_t> seen;
      for_each_item(groups, [&](const ConfigNode& g) {
        if (!g.is_sequence() || g.size() == 0)
          g.fail("expected a non-empty list of network names (net0) or node names (net0.r1)");
        std::vector<NodeId> members;
        for_each_item(g, [&](const ConfigNode& item) {
          const std::string name = item.as_string();
          std::vector<NodeId> ids;
          if (auto net = s.layout.find_network(name)) {
            ids = s.layout.nodes_of(*net);
          } else if (auto id = s.layout.find_node(name)) {
            ids.push_back(*id);
          } else {
            item.fail("unknown network or node '" + name +
                      "' (networks are net0, net1, ...; nodes net0.r0, net0.c0, net0.i)");
          }
          for (NodeId id : ids) {
            if (!seen.insert(id.value).second)
              item.fail("node " + s.layout.name_of(id) + " is in more than one group");
            members.push_back(id);
          }
        });
        part.groups.push_back(std::move(members));
      });
      s.partitions.push_back(std::move(part));
    });
  }
}

void parse_protocol(const ConfigNode& n, Scenario& s) {
  n.allow_only({"block_max_entries", "block_timeout", "presence_timeout", "retry_timeout",
                "retry_max_backoff", "max_attempts", "migration_settle", "migration_rounds",
                "max_blob_mb", "pipeline"});
  ProtocolParams& p = s.protocol;
  p.pipeline = n.get_bool("pipeline", p.pipeline);
  p.block_max_entries = static_cast<std::size_t>(
      n.get_int("block_max_entries", static_cast<std::int64_t>(p.block_max_entries), 1,
                static_cast<std::int64_t>(kMaxBlockEntries)));
  const TimeUs hour = 3600 * kUsPerSecond;
  if (auto c = n.optional("block_timeout"))
    p.block_timeout_us = duration_in(*c, 1, hour, "a duration in (0, 1h]");
  if (auto c = n.optional("presence_timeout"))
    p.presence_timeout_us = duration_in(*c, 1, hour, "a duration in (0, 1h]");
  if (auto c = n.optional("retry_timeout"))
    p.retry_timeout_us = duration_in(*c, 1, hour, "a duration in (0, 1h]");
  if (auto c = n.optional("retry_max_backoff"))
    p.retry_max_backoff_us = duration_in(*c, 1, hour, "a duration in (0, 1h]");
  if (p.retry_max_backoff_us < p.retry_timeout_us) {
    auto c = n.optional("retry_max_backoff");
    (c ? *c : n).fail("retry_max_backoff must be at least retry_timeout");
  }
  p.max_attempts =
      static_cast<std::uint32_t>(n.get_int("max_attempts", p.max_attempts, 1, 1'000'000));
  if (auto c = n.optional("migration_settle"))
    p.migration_settle_us = duration_in(*c, 0, hour, "a duration in [0, 1h]");
  p.migration_rounds =
      static_cast<std::uint32_t>(n.get_int("migration_rounds", p.migration_rounds, 0, 1000));
  p.max_blob_bytes = static_cast<std::uint64_t>(
                         n.get_int("max_blob_mb", static_cast<std::int64_t>(p.max_blob_bytes >> 20),
                                   1, kMaxBlobBytesCeiling >> 20))
                     << 20;
}

void parse_cpu(const ConfigNode& n, Scenario& s) {
  n.allow_only({"enabled", "sign", "verify", "store_commit", "per_message", "per_byte_ns",
                "store_per_byte_ns"});
  Scenario::Cpu& c = s.cpu;
  const TimeUs second = kUsPerSecond;
  c.enabled = n.get_bool("enabled", c.enabled);
  if (auto v = n.optional("sign")) c.sign_us = duration_in(*v, 0, second, "a duration up to 1s");
  if (auto v = n.optional("verify"))
    c.verify_us = duration_in(*v, 0, second, "a duration up to 1s");
  if (auto v = n.optional("store_commit"))
    c.store_commit_us = duration_in(*v, 0, second, "a duration up to 1s");
  if (auto v = n.optional("per_message"))
    c.per_message_us = duration_in(*v, 0, second, "a duration up to 1s");
  c.per_byte_ns = n.get_double("per_byte_ns", c.per_byte_ns, 0, 1e6);
  c.store_per_byte_ns = n.get_double("store_per_byte_ns", c.store_per_byte_ns, 0, 1e6);
}

void parse_migrations(const ConfigNode& m, Scenario& s) {
  m.allow_only({"count", "within_fraction", "window", "explicit"});
  Scenario::Workload& w = s.workload;
  w.migration_count = static_cast<std::uint32_t>(m.get_int("count", 0, 0, 100'000'000));
  w.migration_within_fraction = m.get_double("within_fraction", 0.5, 0, 1);
  if (auto win = m.optional("window")) {
    win->allow_only({"from", "to"});
    if (auto f = win->optional("from")) {
      w.migration_from_us = duration_in(*f, 0, s.duration_us, "a time within the duration");
      if (w.migration_from_us < w.registration_window_us)
        f->fail("migrations start after the registration window (" +
                std::to_string(w.registration_window_us / kUsPerMs) + " ms)");
    }
    if (auto t = win->optional("to"))
      w.migration_to_us = duration_in(*t, 0, s.duration_us, "a time within the duration");
    if (w.migration_to_us <= w.migration_from_us)
      win->fail("the migration window needs from < to (and both within the duration)");
  }
  if (auto ex = m.optional("explicit")) {
    for_each_item(*ex, [&](const ConfigNode& e) {
      e.allow_only({"at", "user", "to"});
      Scenario::ExplicitMigration em;
      auto at = e.required("at");
      em.at_us = duration_in(at, 0, s.duration_us, "a time within the duration");
      if (em.at_us < w.registration_window_us)
        at.fail("a migration must come after the registration window (" +
                std::to_string(w.registration_window_us / kUsPerMs) + " ms)");
      em.user = static_cast<std::uint32_t>(
          e.required("user").as_int(0, static_cast<std::int64_t>(w.users) - 1));
      em.to = resolve_record_node(s, e.required("to"));
      w.explicit_migrations.push_back(em);
    });
  }
}

void parse_workload(const ConfigNode& n, Scenario& s) {
  n.allow_only({"users", "multi_network_fraction", "nodes_per_network", "registration_window",
                "record_rate", "start", "stop", "payload_bytes", "content_types", "categories",
                "migrations", "pinned"});
  Scenario::Workload& w = s.workload;
  w.users = static_cast<std::uint32_t>(n.required("users").as_int(1, kMaxUsers));
  w.multi_network_fraction = n.get_double("multi_network_fraction", 0.1, 0, 1);
  if (auto c = n.optional("nodes_per_network")) {
    w.nodes_per_network = static_cast<std::uint32_t>(c->as_int(1, kMaxRecordNodes));
    const auto smallest = *std::min_element(s.record_nodes.begin(), s.record_nodes.end());
    if (w.nodes_per_network > smallest)
      c->fail("a network has only " + std::to_string(smallest) + " record node(s)");
  }
  if (auto c = n.optional("registration_window"))
    w.registration_window_us = duration_in(*c, 1, s.duration_us, "a duration within the duration");
  {
    auto r = n.required("record_rate");
    w.record_rate = r.as_double(0, 1e9);
    if (!(w.record_rate > 0)) r.fail("record_rate must be greater than zero");
  }
  w.start_us = w.registration_window_us + kUsPerSecond;
  std::optional<ConfigNode> start = n.optional("start");
  if (start) w.start_us = duration_in(*start, 0, s.duration_us, "a time within the duration");
  w.stop_us = s.duration_us - kUsPerSecond;
  std::optional<ConfigNode> stop = n.optional("stop");
  if (stop) w.stop_us = duration_in(*stop, 0, s.duration_us, "a time within the duration");
  if (w.stop_us <= w.start_us)
    (stop    ? *stop
     : start ? *start
             : n)
        .fail("records need start < stop <= duration (start " +
              std::to_string(w.start_us / kUsPerMs) + " ms, stop " +
              std::to_string(w.stop_us / kUsPerMs) + " ms, duration " +
              std::to_string(s.duration_us / kUsPerMs) + " ms)");
  if (auto p = n.optional("payload_bytes")) {
    auto size = [&](const ConfigNode& c) {
      auto v = c.as_size_bytes();
      if (v < 1 || v > kMaxInlinePayloadBytes)
        c.fail("expected a payload size in [1, " + std::to_string(kMaxInlinePayloadBytes) +
               "] bytes");
      return static_cast<std::uint32_t>(v);
    };
    if (p->yaml().IsScalar()) {
      w.payload_min = w.payload_max = size(*p);
    } else {
      p->allow_only({"min", "max"});
      if (auto c = p->optional("min")) w.payload_min = size(*c);
      if (auto c = p->optional("max")) w.payload_max = size(*c);
      if (w.payload_max < w.payload_min) p->fail("payload_bytes needs min <= max");
    }
  }
  if (auto ct = n.optional("content_types")) {
    if (!ct->is_sequence() || ct->size() == 0) ct->fail("expected a non-empty list of strings");
    if (ct->size() > 65535) ct->fail("at most 65535 content types");
    for_each_item(*ct, [&](const ConfigNode& c) {
      auto v = c.as_string();
      if (v.empty() || v.size() > kMaxContentTypeBytes)
        c.fail("a content type has 1 to " + std::to_string(kMaxContentTypeBytes) + " bytes");
      w.content_types.push_back(v);
    });
  } else {
    w.content_types = {"Observation",       "Encounter",        "Condition",
                       "MedicationRequest", "DiagnosticReport", "Claim"};
  }
  if (auto cats = n.optional("categories")) {
    cats->allow_only({"medical", "billing", "insurance", "administrative"});
    double sum = 0;
    for (const auto& key : cats->keys()) {
      auto cat = parse_category(key);
      MHR_ASSERT(cat.has_value());
      double v = cats->required(key).as_double(0, 1e9);
      w.category_weights[static_cast<std::size_t>(*cat)] = v;
      sum += v;
    }
    if (!(sum > 0)) cats->fail("the category weights must not all be zero");
  } else {
    w.category_weights = {0.8, 0.1, 0.1, 0.0};
  }
  if (auto pins = n.optional("pinned")) {
    std::set<std::uint32_t> users;
    for_each_item(*pins, [&](const ConfigNode& p) {
      p.allow_only({"user", "nodes", "at"});
      Scenario::PinnedUser pu;
      auto u = p.required("user");
      pu.user = static_cast<std::uint32_t>(u.as_int(0, static_cast<std::int64_t>(w.users) - 1));
      if (!users.insert(pu.user).second) u.fail("user pinned twice");
      auto nodes = p.required("nodes");
      if (!nodes.is_sequence() || nodes.size() == 0)
        nodes.fail("expected a non-empty list of record node names");
      for_each_item(nodes, [&](const ConfigNode& c) {
        NodeId id = resolve_record_node(s, c);
        if (std::find(pu.nodes.begin(), pu.nodes.end(), id) != pu.nodes.end())
          c.fail("node listed twice");
        pu.nodes.push_back(id);
      });
      if (auto at = p.optional("at"))
        pu.at_us = duration_in(*at, 0, w.registration_window_us - 1,
                               "a time within the registration window");
      w.pinned.push_back(std::move(pu));
    });
  }
  w.migration_from_us = std::max(w.start_us, w.registration_window_us);
  w.migration_to_us = std::max(w.stop_us, w.migration_from_us + 1);
  if (auto m = n.optional("migrations")) parse_migrations(*m, s);
}

void parse_random_faults(const ConfigNode& n, Scenario& s) {
  n.allow_only({"crashes", "down", "loss", "duplicate", "partitions", "partition_length", "window",
                "byzantine"});
  Scenario::RandomFaults& f = s.random_faults;
  f.enabled = true;
  const std::uint32_t f_per_group = (s.consensus_nodes - 1) / 3;
  const std::int64_t byzantine_max = static_cast<std::int64_t>(f_per_group) * s.network_count();
  if (auto b = n.optional("byzantine"); b && b->as_int(0, 1000) > byzantine_max)
    b->fail("at most f = " + std::to_string(f_per_group) + " Byzantine replica(s) per network of " +
            std::to_string(s.consensus_nodes) + " consensus nodes, " +
            std::to_string(byzantine_max) + " in all");
  f.byzantine = static_cast<std::uint32_t>(n.get_int("byzantine", 0, 0, byzantine_max));
  f.crashes = static_cast<std::uint32_t>(n.get_int("crashes", 0, 0, 1000));
  f.partitions = static_cast<std::uint32_t>(n.get_int("partitions", 0, 0, 100));
  f.loss_max = n.get_double("loss", 0, 0, 0.5);
  f.duplicate_max = n.get_double("duplicate", 0, 0, 0.5);
  auto range = [&](const char* key, TimeUs& lo, TimeUs& hi) {
    if (auto r = n.optional(key)) {
      r->allow_only({"min", "max"});
      lo = duration_in(r->required("min"), 1, kMaxDuration, "a positive duration");
      hi = duration_in(r->required("max"), lo, kMaxDuration, "a duration of at least min");
    }
  };
  range("down", f.down_min_us, f.down_max_us);
  range("partition_length", f.partition_min_us, f.partition_max_us);
  f.from_us = s.workload.start_us;
  f.to_us = std::max(s.workload.stop_us, f.from_us + 1);
  if (auto w = n.optional("window")) {
    w->allow_only({"from", "to"});
    f.from_us = duration_in(w->required("from"), 0, s.duration_us, "a time within the duration");
    f.to_us = duration_in(w->required("to"), f.from_us + 1, s.duration_us,
                          "a time after from, within the duration");
  }
}

void parse_byzantine(const ConfigNode& list, Scenario& s) {
  for_each_item(list, [&](const ConfigNode& b) {
    b.allow_only({"node", "behaviour"});
    Scenario::ByzantineReplica r;
    const ConfigNode node = b.required("node");
    r.node = resolve_node(s, node);
    const ConfigNode behaviour = b.required("behaviour");
    const std::string name = behaviour.as_string();
    const auto parsed = parse_byzantine_behaviour(name);
    if (!parsed)
      behaviour.fail("unknown behaviour '" + name + "' (" + byzantine_behaviour_names() + ")");
    r.behaviour = *parsed;
    const NodeRole role = s.layout.role_of(r.node);
    using B = Scenario::Byzantine;
    if (r.behaviour == B::kForgedPresence) {
      if (role != NodeRole::kRecord)
        node.fail("'" + node.as_string() + "' is not a record node (net<n>.r<k>)");
    } else if (r.behaviour == B::kForgedMembership) {
      if (role != NodeRole::kIndex)
        node.fail("'" + node.as_string() + "' is not an index node (net<n>.i)");
    } else if (r.behaviour == B::kReplayOld) {
      if (role == NodeRole::kIndex)
        node.fail("'" + node.as_string() +
                  "' is an index node: replay_old is for record and consensus nodes");
    } else if (role == NodeRole::kIndex) {
      // An index node lies only as a replica of the index chain.
      if (r.behaviour != B::kEquivocate && r.behaviour != B::kWithholdVotes &&
          r.behaviour != B::kBadSignatures)
        behaviour.fail(
            "an index node's behaviours are equivocate, withhold_votes, bad_signatures, "
            "forged_membership");
    } else if (role != NodeRole::kConsensus) {
      node.fail("'" + node.as_string() +
                "' is not a consensus node (net<n>.c<k>) or an index node (net<n>.i)");
    }
    s.byzantine.push_back(r);
  });
}

void parse_faults(const ConfigNode& n, Scenario& s) {
  n.allow_only({"crashes", "random", "byzantine"});
  if (auto r = n.optional("random")) parse_random_faults(*r, s);
  if (auto b = n.optional("byzantine")) parse_byzantine(*b, s);
  if (auto cs = n.optional("crashes")) {
    for_each_item(*cs, [&](const ConfigNode& c) {
      c.allow_only({"node", "at", "restart"});
      Scenario::Crash crash;
      crash.node = resolve_node(s, c.required("node"));
      crash.at_us = duration_in(c.required("at"), 0, s.duration_us, "a time within the duration");
      if (auto r = c.optional("restart")) {
        crash.restart_us = duration_in(*r, 0, kMaxDuration, "a time");
        if (*crash.restart_us <= crash.at_us) r->fail("restart must be after at");
      }
      s.crashes.push_back(crash);
    });
  }
}

Scenario parse_scenario(const ConfigNode& root, const std::string& file,
                        const std::vector<std::string>& overrides) {
  if (!root.yaml().IsMap()) root.fail("a scenario is a map of keys (name, duration, topology...)");
  root.allow_only({"name", "description", "seed", "duration", "modes", "crypto", "topology",
                   "network", "protocol", "cpu", "workload", "faults", "report", "simulator"});
  Scenario s;
  s.file = file;
  s.overrides = overrides;
  s.name = root.get_string("name", std::filesystem::path(file).stem().string());
  if (s.name.empty()) root.required("name").fail("the name must not be empty");
  s.description = root.get_string("description", "");
  s.seed = static_cast<std::uint64_t>(
      root.get_int("seed", 1, 0, std::numeric_limits<std::int64_t>::max()));
  s.duration_us = positive_duration(root.required("duration"));

  if (auto m = root.optional("modes")) {
    s.modes.clear();
    auto add = [&](const ConfigNode& c) {
      auto mode = *parse_scenario_mode(c.as_enum({"broadcast", "table", "full"}));
      if (std::find(s.modes.begin(), s.modes.end(), mode) != s.modes.end())
        c.fail("mode listed twice");
      s.modes.push_back(mode);
    };
    if (m->yaml().IsScalar()) {
      add(*m);
    } else {
      if (!m->is_sequence() || m->size() == 0)
        m->fail("expected a non-empty list of modes (broadcast, table, full)");
      for_each_item(*m, add);
    }
  }
  if (auto c = root.optional("crypto"))
    s.protocol.crypto =
        c->as_enum({"real", "modeled"}) == "real" ? CryptoMode::kReal : CryptoMode::kModeled;

  parse_topology(root.required("topology"), s);

  // Link defaults: intra constant 1 ms at 1 Gbps, inter uniform 20-40 ms at
  // 100 Mbps, no loss.
  s.intra.latency.dist = Scenario::LatencyDist::kConstant;
  s.intra.latency.value_us = 1 * kUsPerMs;
  s.intra.bandwidth_bps = 1'000'000'000;
  s.inter.latency.dist = Scenario::LatencyDist::kUniform;
  s.inter.latency.min_us = 20 * kUsPerMs;
  s.inter.latency.max_us = 40 * kUsPerMs;
  s.inter.bandwidth_bps = 100'000'000;
  if (auto n = root.optional("network")) parse_network(*n, s);
  if (auto p = root.optional("protocol")) parse_protocol(*p, s);
  if (auto c = root.optional("cpu")) parse_cpu(*c, s);
  parse_workload(root.required("workload"), s);
  if (auto f = root.optional("faults")) parse_faults(*f, s);
  if (auto r = root.optional("report")) {
    r->allow_only({"timeseries", "html"});
    s.report_timeseries = r->get_bool("timeseries", true);
    s.report_html = r->get_bool("html", true);
  }
  if (auto sim = root.optional("simulator")) parse_simulator(*sim, s);
  return s;
}

Scenario load_from(const ConfigNode& loaded, const std::string& file,
                   const std::vector<std::string>& overrides) {
  YAML::Node root = loaded.yaml();  // shares the tree: overrides edit it
  for (const auto& o : overrides) apply_override(root, o);
  return parse_scenario(ConfigNode(root, file, ""), file, overrides);
}

}  // namespace

Scenario load_scenario(const std::string& path, const std::vector<std::string>& overrides) {
  return load_from(ConfigNode::load_file(path), path, overrides);
}

Scenario load_scenario_string(const std::string& text, const std::string& name,
                              const std::vector<std::string>& overrides) {
  return load_from(ConfigNode::load_string(text, name), name, overrides);
}

// ---------------------------------------------------------------- topology

std::vector<NodeSpec> node_specs(const Scenario& s) {
  std::vector<NodeSpec> out;
  out.reserve(s.layout.node_count);
  for (std::uint32_t net = 0; net < s.layout.networks.size(); ++net) {
    for (NodeId id : s.layout.nodes_of(net))
      out.push_back(NodeSpec{id, s.layout.role_of(id), NetworkId{net}, s.layout.name_of(id)});
  }
  return out;
}

Topology make_topology(const Scenario& s, const ProtocolParams& params,
                       const std::vector<PublicKey>& keys) {
  if (keys.size() != s.layout.node_count)
    throw std::invalid_argument("make_topology: " + std::to_string(keys.size()) + " keys for " +
                                std::to_string(s.layout.node_count) + " nodes");
  std::vector<NodeInfo> nodes;
  nodes.reserve(s.layout.node_count);
  for (auto& spec : node_specs(s))
    nodes.push_back(NodeInfo{
        spec.id, spec.role, spec.network, keys[spec.id.value], std::move(spec.name), {}, {}});
  std::vector<NetworkInfo> networks;
  networks.reserve(s.layout.networks.size());
  for (std::uint32_t net = 0; net < s.layout.networks.size(); ++net) {
    const auto& l = s.layout.networks[net];
    NetworkInfo n;
    n.id = NetworkId{net};
    n.record_nodes.reserve(l.record_count);
    for (std::uint32_t k = 0; k < l.record_count; ++k)
      n.record_nodes.push_back(NodeId{l.first_record + k});
    for (std::uint32_t k = 0; k < l.consensus_count; ++k) {
      NodeId c{l.first_consensus + k};
      n.consensus_nodes.push_back(c);
      n.validators.members.push_back({c, keys[c.value]});
    }
    // Two quorums meet in an honest replica for any n (2f+1 when n = 3f+1).
    n.validators.quorum = bft_quorum(l.consensus_count);
    n.index_node = NodeId{l.index};
    networks.push_back(std::move(n));
  }
  return Topology(std::move(nodes), std::move(networks), params);
}

std::optional<NodeId> find_node(const Scenario& s, std::string_view name) {
  return s.layout.find_node(name);
}

}  // namespace mhr
