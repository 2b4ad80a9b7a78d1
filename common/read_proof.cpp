#include "common/read_proof.hpp"

#include <map>

#include "common/verification.hpp"

namespace mhr {

std::vector<std::optional<std::string>> read_proof_errors(const ClientReply& reply,
                                                          const Topology& topology,
                                                          const Verifier& verifier) {
  std::vector<std::optional<std::string>> out(reply.records.size());
  if (reply.proofs.size() != reply.records.size()) {
    for (auto& e : out) e = "the node sent no proof for this record";
    return out;
  }
  // Each header is checked once, however many records it proves.
  std::map<std::pair<NetworkId, std::uint64_t>,
           std::pair<const SignedHeader*, std::optional<std::string>>>
      headers;
  for (const SignedHeader& sh : reply.headers)
    headers[{sh.header.network, sh.header.height}] = {&sh, header_error(sh, topology, verifier)};
  for (std::size_t i = 0; i < reply.records.size(); ++i) {
    const Record& r = reply.records[i];
    const RecordPlace& p = reply.proofs[i];
    auto h = headers.find({p.network, p.height});
    if (h == headers.end()) {
      out[i] = "the header of network " + std::to_string(p.network.value) + " at height " +
               std::to_string(p.height) + " is missing";
    } else if (h->second.second) {
      out[i] = "header: " + *h->second.second;
    } else {
      out[i] = record_entry_error(r, record_hash(r), p.proof, h->second.first->header, topology,
                                  verifier);
    }
  }
  return out;
}

}  // namespace mhr
