// What the simulator engine tests share: a node with a modeled key, a
// network of constant latencies, and a trace of deliveries.
#pragma once

#include <tuple>
#include <utility>
#include <vector>

#include "common/signer.hpp"
#include "common/sim/world.hpp"

namespace mhr::world_test {

// A node of `network` running `f`, signing with a modeled key of its own.
inline NodeId add(SimWorld& w, std::uint32_t network, SimWorld::LogicFactory f) {
  SecretSeed seed;
  seed.bytes[0] = static_cast<std::uint8_t>(w.node_count());
  seed.bytes[1] = 0x5A;
  return w.add_node(NetworkId{network}, make_signer(CryptoMode::kModeled, seed), modeled_verifier(),
                    std::move(f));
}

inline NetworkModel constant_net(TimeUs intra_us, TimeUs inter_us) {
  NetworkModel m;
  m.intra = LinkClass{LatencyDist::constant(intra_us), 0, 0, 0};
  m.inter = LinkClass{LatencyDist::constant(inter_us), 0, 0, 0};
  return m;
}

// Deliveries: (time, from, to, message type).
using Trace = std::vector<std::tuple<TimeUs, std::uint32_t, std::uint32_t, std::size_t>>;

}  // namespace mhr::world_test
