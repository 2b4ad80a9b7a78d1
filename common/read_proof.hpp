// Patient-side verification of a read: every returned record must be signed
// by its author and proven by its Merkle proof into a header that a quorum
// of its network's validators signed. A client trusts nothing else the node
// says.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/client_api.hpp"
#include "common/topology.hpp"

namespace mhr {

// One entry per returned record: nullopt when proven, else why not.
std::vector<std::optional<std::string>> read_proof_errors(const ClientReply& reply,
                                                          const Topology& topology,
                                                          const Verifier& verifier);

}  // namespace mhr
