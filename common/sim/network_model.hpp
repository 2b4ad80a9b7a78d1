// The simulated network: latency distributions, per-link-class bandwidth,
// loss and duplication, and timed partitions. Pure data plus sampling; the
// event loop that applies it lives in SimWorld.
#pragma once

#include <cstdint>
#include <vector>

#include "common/sim/rng.hpp"
#include "common/types.hpp"

namespace mhr {

struct LatencyDist {
  enum class Kind : std::uint8_t { kConstant, kUniform, kLognormal };
  Kind kind = Kind::kConstant;
  TimeUs constant_us = 0;         // kConstant
  TimeUs min_us = 0, max_us = 0;  // kUniform, both inclusive
  TimeUs median_us = 0;           // kLognormal: e^mu
  double sigma = 0;               // kLognormal: std-dev of ln(latency)
  TimeUs floor_us = 0;            // kLognormal: draws below it are raised to it

  static LatencyDist constant(TimeUs us);
  static LatencyDist uniform(TimeUs min_us, TimeUs max_us);
  static LatencyDist lognormal(TimeUs median_us, double sigma, TimeUs floor_us = 0);

  // One latency draw, never negative. A constant draws no randomness.
  TimeUs sample(Rng& rng) const;
  // No draw is ever below this (the parallel simulator's lookahead).
  TimeUs lower_bound_us() const;
};

struct LinkClass {
  LatencyDist latency;
  double bandwidth_bytes_per_s = 0;  // 0 = infinite (no serialisation delay)
  double loss = 0;                   // probability a message is dropped, 0..1
  double duplicate = 0;              // probability a message arrives twice, 0..1

  // Time to put `bytes` on the wire at this bandwidth (0 when infinite).
  TimeUs serialisation_us(std::size_t bytes) const;
};

// Defaults: a LAN inside an edge network (~0.5 ms, 1 Gbit/s) and a WAN
// between networks (~20 ms, 100 Mbit/s), both lossless.
struct NetworkModel {
  LinkClass intra{LatencyDist::lognormal(500, 0.3), 125e6, 0, 0};      // same network
  LinkClass inter{LatencyDist::lognormal(20'000, 0.3), 12.5e6, 0, 0};  // different networks
};

// While start_us <= t < end_us, two nodes in different listed groups cannot
// exchange messages: messages sent then are dropped, and so are messages
// that arrive then. Nodes listed in no group are unaffected.
struct Partition {
  TimeUs start_us = 0;
  TimeUs end_us = 0;
  std::vector<std::vector<NodeId>> groups;

  bool active_at(TimeUs t) const { return start_us <= t && t < end_us; }
};

}  // namespace mhr
