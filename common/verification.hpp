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

// nullopt when the entry (whose hash is `hash`) is proven into `header`
// and correctly signed by an author of the header's network.
std::optional<std::string> entry_error(const Entry& entry, const Hash& hash,
                                       const MerkleProof& proof, const BlockHeader& header,
                                       const Topology& topology, const Verifier& verifier);
// The same for a record, without wrapping it in an Entry.
std::optional<std::string> record_entry_error(const Record& record, const Hash& hash,
                                              const MerkleProof& proof, const BlockHeader& header,
                                              const Topology& topology, const Verifier& verifier);
inline std::optional<std::string> entry_error(const ProvenEntry& pe, const BlockHeader& header,
                                              const Topology& topology, const Verifier& verifier) {
  return entry_error(pe.entry, entry_hash(pe.entry), pe.proof, header, topology, verifier);
}

// nullopt when the record is signed by the record node it names, a node of
// the network it names.
std::optional<std::string> record_author_error(const Record& r, const Topology& topology,
                                               const Verifier& verifier);

}  // namespace mhr
