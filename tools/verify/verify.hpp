// Offline verification of a node's store: every record's hash, author
// signature, chain continuity and Merkle inclusion in its header; every
// header chain's links; every block body against its header's Merkle root;
// and, given the deployment's topology, every header's validator quorum and
// every author's key. Signature checks run on
// all cores. The first problem found is named precisely.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/store.hpp"
#include "common/topology.hpp"

namespace mhr {

struct VerifyReport {
  std::uint64_t records = 0;
  std::uint64_t headers = 0;
  std::optional<std::string> problem;  // the first one, or nothing: intact
  double seconds = 0;
};

// `topology` may be null: then signatures are checked against the keys the
// records carry, and header quorums are not checked.
VerifyReport verify_store(const Store& store, const Topology* topology, unsigned threads);

}  // namespace mhr
