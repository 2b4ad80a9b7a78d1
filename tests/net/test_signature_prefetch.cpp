// The runtime's signature memo and prefetch pool: a hit needs the very same
// key, bytes and signature; bad signatures are never remembered; the pool
// finds exactly the checks the roles make.
#include <doctest/doctest.h>

#include <set>

#include "common/net/signature_prefetch.hpp"
#include "common/net/verify_memo.hpp"
#include "common/record.hpp"
#include "common/verification.hpp"
#include "net_harness.hpp"

using namespace mhr;

namespace {

Bytes bytes_of(const std::string& s) {
  return Bytes(s.begin(), s.end());
}

KeyPair key_of_node(std::uint32_t i) {
  SecretSeed s;
  s.bytes.fill(static_cast<std::uint8_t>(0x40 + i));  // as the harness's Cluster
  return KeyPair::from_seed(s);
}

Record record_by_node0(std::uint64_t sequence, const std::string& payload) {
  const KeyPair author = key_of_node(0);
  Record r;
  r.user = UserId{};
  r.user.bytes.fill(0xA1);
  r.network = NetworkId{0};
  r.author_node = NodeId{0};
  r.author_key = author.public_key();
  r.sequence = sequence;
  r.created_at_us = 1'700'000'000'000'000;
  r.content_type = "Observation";
  r.payload = SharedBytes(as_bytes(payload));
  sign_record(r, author);
  return r;
}

// A block of `n` records, its header signed by the cluster's consensus
// node; the records at `forged` carry a broken signature (in the block's
// Merkle tree as they are, so only their signature is wrong).
BlockDelivery block_of(std::size_t n, const std::set<std::size_t>& forged) {
  BlockDelivery d;
  std::vector<Hash> leaves;
  for (std::size_t i = 0; i < n; ++i) {
    Record r = record_by_node0(i, "{\"n\":" + std::to_string(i) + "}");
    if (forged.contains(i)) r.signature.bytes[i % 64] ^= 1;
    leaves.push_back(record_hash(r));
    d.entries.push_back(ProvenEntry{r, {}});
  }
  const MerkleTree tree(leaves);
  for (std::size_t i = 0; i < n; ++i) d.entries[i].proof = tree.prove(i);
  d.header.header.network = NetworkId{0};
  d.header.header.merkle_root = tree.root();
  d.header.header.entry_count = static_cast<std::uint32_t>(n);
  d.header.header.proposer = NodeId{1};
  add_signature(d.header, NodeId{1}, key_of_node(1));
  return d;
}

}  // namespace

TEST_CASE("memo verifier: a repeated check is a look-up, a changed byte is a real check") {
  VerifyMemo memo(16);
  std::uint64_t checks = 0;
  const MemoVerifier verifier(ed25519_verifier(), memo, checks);
  const KeyPair k = key_of_node(3);
  const Bytes msg = bytes_of("a record's signing bytes");
  const Signature sig = k.sign(msg);
  CHECK(verifier.verify(k.public_key(), msg, sig));
  CHECK(verifier.verify(k.public_key(), msg, sig));
  CHECK(checks == 1);
  Bytes other = msg;
  other[0] ^= 1;
  CHECK_FALSE(verifier.verify(k.public_key(), other, sig));
  CHECK_FALSE(verifier.verify(k.public_key(), other, sig));  // failures are not remembered
  CHECK(checks == 3);
  CHECK_FALSE(verifier.verify(key_of_node(4).public_key(), msg, sig));
  CHECK(memo.size() == 1);
}

TEST_CASE("memo signer: a node's own signature verifies without a check, and the memo is bounded") {
  VerifyMemo memo(2);
  std::uint64_t checks = 0;
  const MemoSigner signer(std::make_unique<KeyPair>(key_of_node(0)), memo);
  const MemoVerifier verifier(ed25519_verifier(), memo, checks);
  std::vector<Bytes> msgs;
  std::vector<Signature> sigs;
  for (int i = 0; i < 3; ++i) {
    msgs.push_back(bytes_of("message " + std::to_string(i)));
    sigs.push_back(signer.sign(msgs.back()));
  }
  CHECK(memo.size() == 2);
  CHECK(verifier.verify(signer.public_key(), msgs[2], sigs[2]));
  CHECK(checks == 0);
  CHECK(verifier.verify(signer.public_key(), msgs[0], sigs[0]));  // forgotten: checked again
  CHECK(checks == 1);
}

TEST_CASE("prefetch finds the checks a holder makes of a block, and the pool keeps the good ones") {
  nettest::Cluster cluster;
  const Topology& topology = *cluster.deployment.topology;
  const BlockDelivery d = block_of(40, {5, 6});
  SignatureBatch checks;
  collect_checks(Message{d}, topology, checks);
  REQUIRE(checks.size() == 41);  // the header's signature and one per record

  VerifyMemo memo(1024);
  std::uint64_t real = 0;
  SignaturePool pool(3, ed25519_verifier(), memo, real);
  pool.run(checks);
  CHECK(real == 41);
  CHECK(memo.size() == 39);
  pool.run(checks);  // known ones are skipped; the two bad ones are checked again
  CHECK(real == 43);

  // The holder's own checks now cost nothing but the two bad records.
  std::uint64_t holder_checks = 0;
  const MemoVerifier verifier(ed25519_verifier(), memo, holder_checks);
  CHECK_FALSE(header_error(d.header, topology, verifier));
  std::size_t refused = 0;
  for (const ProvenEntry& pe : d.entries)
    if (entry_error(pe, d.header.header, topology, verifier)) ++refused;
  CHECK(refused == 2);
  CHECK(holder_checks == 2);
}

TEST_CASE("prefetch of a store request is the record's author signature") {
  nettest::Cluster cluster;
  const Record r = record_by_node0(0, "{}");
  SignatureBatch checks;
  collect_checks(Message{StoreRequest{r}}, *cluster.deployment.topology, checks);
  REQUIRE(checks.size() == 1);
  CHECK(checks[0].key == r.author_key);
  CHECK(checks[0].signature == r.signature);
  const Bytes signed_bytes = record_signing_bytes(r);
  CHECK(std::ranges::equal(checks.message(checks[0]), signed_bytes));
}
