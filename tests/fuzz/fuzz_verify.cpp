// libFuzzer target: header and proof verification on untrusted input. The
// input is a case (fuzz_case.hpp): a signed header, a proven entry and
// optionally the previous header, checked against a fixed deployment with
// real Ed25519 or the modeled scheme. Checks must never crash and must
// agree with each other (an entry that verifies is proven into its header;
// a header that verifies has a quorum). A second kind of case is a list of
// leaves: every proof of their Merkle tree verifies against its root, and
// no proof verifies for another leaf.
#include <cstddef>
#include <cstdint>

#include "common/verification.hpp"
#include "tests/fuzz/fuzz_case.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/fuzz_topology.hpp"

using namespace mhr;

namespace {

void check_case(const fuzz::VerifyCase& c) {
  const auto& d = fuzz::fuzz_deployment(c.mode);
  const Topology& topology = d.topology;
  const Verifier& verifier = verifier_for(c.mode);
  const BlockHeader& h = c.header.header;

  const auto header_problem = header_error(c.header, topology, verifier);
  if (!header_problem) {
    FUZZ_CHECK(topology.has_network(h.network));
    FUZZ_CHECK(verify_quorum(c.header, topology.network(h.network).validators, verifier));
  }
  const auto link = header_link_error(h, c.prev ? &*c.prev : nullptr);
  if (!link && c.prev) FUZZ_CHECK(h.prev_hash == header_hash(*c.prev));

  const Hash leaf = entry_hash(c.entry.entry);
  const auto entry_problem = entry_error(c.entry, h, topology, verifier);
  if (!entry_problem) {
    FUZZ_CHECK(!inclusion_error(leaf, c.entry.proof, h));
    FUZZ_CHECK(verify_inclusion(leaf, c.entry.proof, h.merkle_root));
  }
  if (const auto* r = std::get_if<Record>(&c.entry.entry)) {
    const auto author = record_author_error(*r, topology, verifier);
    if (!entry_problem) FUZZ_CHECK(!author);
    if (!author) FUZZ_CHECK(verify_record_signature(*r, verifier));
    if (r->sequence > 0)
      FUZZ_CHECK(!chain_continuity_error(*r, ChainTip{r->sequence - 1, r->prev_hash}));
    const auto first = chain_continuity_error(*r, std::nullopt);
    FUZZ_CHECK(first.has_value() == (r->sequence != 0 || !r->prev_hash.is_zero()));
  }
}

void check_tree(const std::vector<Hash>& leaves) {
  const MerkleTree tree(leaves);
  FUZZ_CHECK(tree.root() == merkle_root(leaves));
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    const MerkleProof p = tree.prove(i);
    FUZZ_CHECK(verify_inclusion(leaves[i], p, tree.root()));
    const std::size_t other = (i + 1) % leaves.size();
    if (leaves[other] != leaves[i]) FUZZ_CHECK(!verify_inclusion(leaves[other], p, tree.root()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView in(data, size);
  if (auto c = fuzz::decode_verify_case(in)) check_case(*c);
  if (auto leaves = fuzz::decode_leaves_case(in)) check_tree(*leaves);
  return 0;
}
