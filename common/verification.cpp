#include "common/verification.hpp"

namespace mhr {

std::optional<std::string> header_error(const SignedHeader& sh, const Topology& topology,
                                        const Verifier& verifier) {
  if (!topology.has_network(sh.header.network)) return "header of an unknown network";
  if (!verify_quorum(sh, topology.network(sh.header.network).validators, verifier))
    return "header lacks a quorum of valid validator signatures";
  return std::nullopt;
}

std::optional<std::string> record_author_error(const Record& r, const Topology& topology,
                                               const Verifier& verifier) {
  if (!topology.has_node(r.author_node)) return "record of an unknown author node";
  const NodeInfo& author = topology.node(r.author_node);
  if (author.role != NodeRole::kRecord || author.network != r.network)
    return "record author is not a record node of the record's network";
  if (author.key != r.author_key) return "record author key is not the author node's key";
  if (!verify_record_signature(r, verifier)) return "record signature does not verify";
  return std::nullopt;
}

namespace {

std::optional<std::string> registration_error(const Registration& reg, const BlockHeader& header,
                                              const Topology& topology, const Verifier& verifier) {
  if (reg.network != header.network) return "registration of another network";
  if (!topology.has_node(reg.node)) return "registration at an unknown node";
  const NodeInfo& node = topology.node(reg.node);
  if (node.role != NodeRole::kRecord || node.network != reg.network)
    return "registration at a node that is not a record node of its network";
  if (node.key != reg.node_key) return "registration key is not the node's key";
  if (!verify_registration_signature(reg, verifier))
    return "registration signature does not verify";
  return std::nullopt;
}

std::optional<std::string> anchor_error(const AuditAnchor& a, const BlockHeader& header,
                                        const Topology& topology, const Verifier& verifier) {
  if (a.network != header.network) return "audit anchor ordered by another network";
  if (!topology.has_node(a.node)) return "audit anchor of an unknown node";
  const NodeInfo& node = topology.node(a.node);
  if (node.role != NodeRole::kRecord || node.network != a.network)
    return "audit anchor of a node that is not a record node of its network";
  if (node.key != a.node_key) return "audit anchor key is not the node's key";
  if (!verify_anchor_signature(a, verifier)) return "audit anchor signature does not verify";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> entry_error(const Entry& entry, const Hash& hash,
                                       const MerkleProof& proof, const BlockHeader& header,
                                       const Topology& topology, const Verifier& verifier) {
  if (const auto* rec = std::get_if<Record>(&entry))
    return record_entry_error(*rec, hash, proof, header, topology, verifier);
  if (auto e = inclusion_error(hash, proof, header)) return e;
  if (const auto* reg = std::get_if<Registration>(&entry))
    return registration_error(*reg, header, topology, verifier);
  return anchor_error(std::get<AuditAnchor>(entry), header, topology, verifier);
}

std::optional<std::string> record_entry_error(const Record& record, const Hash& hash,
                                              const MerkleProof& proof, const BlockHeader& header,
                                              const Topology& topology, const Verifier& verifier) {
  if (auto e = inclusion_error(hash, proof, header)) return e;
  if (record.network != header.network) return "record ordered by another network";
  return record_author_error(record, topology, verifier);
}

}  // namespace mhr
