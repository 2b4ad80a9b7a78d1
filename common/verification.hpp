// Checks every node applies to what it is sent: a header must carry a
// quorum of its network's validators; an entry must be proven into its
// header and signed by the node the topology says wrote it.
#pragma once

#include <optional>
#include <string>

#include "common/entry.hpp"
#include "common/topology.hpp"

namespace mhr {

// nullopt when `sh` is a header of a known network signed by a quorum.
std::optional<std::string> header_error(const SignedHeader& sh, const Topology& topology,
                                        const Verifier& verifier);

// nullopt when `pe` is proven into `header` and correctly signed by an
// author of the header's network.
std::optional<std::string> entry_error(const ProvenEntry& pe, const BlockHeader& header,
                                       const Topology& topology, const Verifier& verifier);

// nullopt when the record is signed by the record node it names, a node of
// the network it names.
std::optional<std::string> record_author_error(const Record& r, const Topology& topology,
                                               const Verifier& verifier);

}  // namespace mhr
