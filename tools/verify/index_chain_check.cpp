#include "tools/verify/index_chain_check.hpp"

#include <map>

#include "common/bft/agreement.hpp"
#include "common/chain_store.hpp"
#include "common/index_tx.hpp"
#include "common/signer.hpp"
#include "index_node/index_chain.hpp"

namespace mhr {

std::optional<std::string> check_index_chain(const Store& store, const Topology* topology) {
  ValidatorSet validators;
  if (topology) {
    for (NodeId n : topology->index_nodes())
      validators.members.push_back({n, topology->node(n).key});
    validators.quorum = bft_quorum(validators.members.size());
  }
  // What the bodies imply: every other key, with its value.
  std::map<Bytes, Bytes> implied;
  std::optional<SignedHeader> prev;
  std::uint64_t height = 0;
  for (;; ++height) {
    auto stored = store.get(Table::kIndexChain, index_header_key(height));
    if (!stored) break;
    const std::string where = "index block " + std::to_string(height);
    auto sh = decode<SignedHeader>(*stored);
    if (!sh.ok()) return where + ": header does not decode";
    if (sh->header.network != kIndexNetwork) return where + ": header of another chain";
    if (auto e = header_link_error(sh->header, prev ? &prev->header : nullptr))
      return where + ": " + *e;
    if (topology && !verify_quorum(*sh, validators, verifier_for(topology->params().crypto)))
      return where + ": header lacks a quorum of index node signatures";
    auto body = store.get(Table::kIndexChain, index_body_key(height));
    if (!body) return where + ": body missing";
    auto txs = decode_index_body(*body);
    if (!txs.ok() || !index_body_matches(sh->header, txs.value()))
      return where + ": body does not match the header's Merkle root";
    implied[index_header_key(height)] = *stored;
    implied[index_body_key(height)] = *body;
    Bytes h;
    append_be64(h, height);
    for (const IndexTx& tx : txs.value()) {
      // A membership's proof is outside the Merkle root: checked on its own.
      if (const auto* m = std::get_if<Membership>(&tx); m && topology)
        if (auto e = membership_error(*m, *topology, verifier_for(topology->params().crypto)))
          return where + ": the membership of user " + m->user.short_hex() + ": " + *e;
      implied[index_tx_key(index_tx_hash(tx))] = h;
      if (const auto* a = std::get_if<Anchor>(&tx))
        implied[index_anchor_key(a->network, a->height)] =
            Bytes(a->header_hash.bytes.begin(), a->header_hash.bytes.end());
    }
    prev = std::move(sh).value();
  }
  std::optional<std::string> problem;
  std::size_t seen = 0;
  store.scan(Table::kIndexChain, {}, {}, [&](ByteView key, ByteView value) {
    auto it = implied.find(Bytes(key.begin(), key.end()));
    if (it == implied.end()) {
      problem = "index chain entry " + to_hex(key) + " that no committed block implies";
    } else if (it->second != Bytes(value.begin(), value.end())) {
      problem = "index chain entry " + to_hex(key) + " differs from what its block implies";
    }
    ++seen;
    return !problem;
  });
  if (!problem && seen != implied.size())
    problem = "index chain entries missing (" + std::to_string(implied.size() - seen) + ")";
  return problem;
}

}  // namespace mhr
