#include "tools/sim/faults.hpp"

#include <algorithm>
#include <set>

#include "common/sim/rng.hpp"

namespace mhr {

namespace {

constexpr std::uint64_t kFaultStream = 0xFA017;

TimeUs between(Rng& rng, TimeUs lo, TimeUs hi) {
  return lo + static_cast<TimeUs>(rng.uniform_u64(static_cast<std::uint64_t>(hi - lo) + 1));
}

// Splits the networks in two (or, with one network, one node from the
// rest); with consensus groups, every other partition cuts off some
// replicas of one network from everything else instead.
std::vector<std::vector<NodeId>> split(const Scenario& s, Rng& rng) {
  std::vector<std::vector<NodeId>> groups(2);
  if (s.consensus_nodes > 1 && rng.uniform_u64(2) == 0) {
    const auto& net = s.layout.networks[rng.uniform_u64(s.network_count())];
    const std::uint32_t cut =
        1 + static_cast<std::uint32_t>(rng.uniform_u64(net.consensus_count - 1));
    std::vector<std::uint32_t> replicas(net.consensus_count);
    for (std::uint32_t i = 0; i < net.consensus_count; ++i) replicas[i] = net.first_consensus + i;
    for (std::size_t i = replicas.size() - 1; i > 0; --i)
      std::swap(replicas[i], replicas[rng.uniform_u64(i + 1)]);
    std::set<std::uint32_t> cut_off(replicas.begin(), replicas.begin() + cut);
    for (std::uint32_t n = 0; n < s.layout.node_count; ++n)
      groups[cut_off.contains(n) ? 0 : 1].push_back(NodeId{n});
    return groups;
  }
  const std::size_t networks = s.network_count();
  if (networks >= 2) {
    std::size_t cut = 1 + rng.uniform_u64(networks - 1);
    std::vector<std::uint32_t> order(networks);
    for (std::uint32_t i = 0; i < networks; ++i) order[i] = i;
    for (std::size_t i = networks - 1; i > 0; --i)
      std::swap(order[i], order[rng.uniform_u64(i + 1)]);
    for (std::size_t i = 0; i < networks; ++i)
      for (NodeId n : s.layout.nodes_of(order[i])) groups[i < cut ? 0 : 1].push_back(n);
    return groups;
  }
  std::vector<NodeId> nodes = s.layout.nodes_of(0);
  std::size_t lone = rng.uniform_u64(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) groups[i == lone ? 0 : 1].push_back(nodes[i]);
  return groups;
}

}  // namespace

Scenario with_random_faults(const Scenario& base, std::uint64_t seed) {
  Scenario s = base;
  const Scenario::RandomFaults& f = s.random_faults;
  if (!f.enabled) return s;
  Rng rng(mix_seed(seed, kFaultStream));
  const std::size_t nodes = s.node_count();
  for (std::uint32_t i = 0; i < f.crashes; ++i) {
    Scenario::Crash c;
    c.node = NodeId{static_cast<std::uint32_t>(rng.uniform_u64(nodes))};
    c.at_us = between(rng, f.from_us, f.to_us - 1);
    c.restart_us = c.at_us + between(rng, f.down_min_us, f.down_max_us);
    s.crashes.push_back(c);
  }
  s.intra.loss = std::max(s.intra.loss, rng.uniform_double() * f.loss_max);
  s.inter.loss = std::max(s.inter.loss, rng.uniform_double() * f.loss_max);
  s.intra.duplicate = std::max(s.intra.duplicate, rng.uniform_double() * f.duplicate_max);
  s.inter.duplicate = std::max(s.inter.duplicate, rng.uniform_double() * f.duplicate_max);
  for (std::uint32_t i = 0; i < f.partitions; ++i) {
    Scenario::Partition p;
    p.start_us = between(rng, f.from_us, f.to_us - 1);
    p.end_us = p.start_us + between(rng, f.partition_min_us, f.partition_max_us);
    p.groups = split(s, rng);
    s.partitions.push_back(std::move(p));
  }
  return s;
}

}  // namespace mhr
