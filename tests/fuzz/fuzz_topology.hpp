// The fixed deployment the verification fuzz target checks against, and the
// keys its nodes sign with: the corpus generator signs headers and entries
// with these keys, so the seed corpus reaches past signature checks.
#pragma once

#include <memory>
#include <vector>

#include "common/signer.hpp"
#include "common/topology.hpp"

namespace mhr::fuzz {

struct FuzzDeployment {
  Topology topology;
  std::vector<std::unique_ptr<Signer>> signers;  // by node id
};

// Two networks (consensus node, two record nodes, index node each); keys
// from fixed seeds. One deployment per crypto mode, built once.
const FuzzDeployment& fuzz_deployment(CryptoMode mode);

}  // namespace mhr::fuzz
