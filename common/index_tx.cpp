#include "common/index_tx.hpp"

#include "common/assert.hpp"
#include "common/crypto.hpp"
#include "common/hash_writer.hpp"
#include "common/merkle.hpp"
#include "common/verification.hpp"

namespace mhr {

namespace {

enum class IndexTxKind : std::uint8_t { kMembership = 0, kAnchor = 1 };

void write_claim(Writer& w, const Membership& m) {
  w.u8(static_cast<std::uint8_t>(IndexTxKind::kMembership));
  w.fixed(m.user);
  w.varint(m.network.value);
  w.varint(m.node.value);
}

}  // namespace

void Codec<IndexTx>::write(Writer& w, const IndexTx& v) {
  if (const auto* m = std::get_if<Membership>(&v)) {
    write_claim(w, *m);
    Codec<SignedHeader>::write(w, m->proof.header);
    Codec<ProvenEntry>::write(w, m->proof.registration);
    return;
  }
  const auto& a = std::get<Anchor>(v);
  w.u8(static_cast<std::uint8_t>(IndexTxKind::kAnchor));
  w.varint(a.network.value);
  w.varint(a.height);
  w.fixed(a.header_hash);
}

IndexTx Codec<IndexTx>::read(Reader& r) {
  switch (static_cast<IndexTxKind>(r.u8())) {
    case IndexTxKind::kMembership: {
      Membership m;
      m.user = r.fixed_as<UserId>();
      m.network = NetworkId{r.u32()};
      m.node = NodeId{r.u32()};
      m.proof.header = Codec<SignedHeader>::read(r);
      m.proof.registration = Codec<ProvenEntry>::read(r);
      return m;
    }
    case IndexTxKind::kAnchor: {
      Anchor a;
      a.network = NetworkId{r.u32()};
      a.height = r.varint();
      a.header_hash = r.fixed_as<Hash>();
      return a;
    }
  }
  r.fail(DecodeError::kUnknownType);
  return Membership{};
}

Hash index_tx_hash(const IndexTx& tx) {
  if (const auto* m = std::get_if<Membership>(&tx)) {
    return sha256_of_writing([m](Writer& w) {
      w.u8(kCodecVersion);
      write_claim(w, *m);
    });
  }
  return sha256_of_writing([&tx](Writer& w) { write_versioned(w, tx); });
}

NetworkId index_tx_network(const IndexTx& tx) {
  return std::visit([](const auto& t) { return t.network; }, tx);
}

Bytes encode_index_body(const std::vector<IndexTx>& txs) {
  MHR_ASSERT(txs.size() <= kMaxIndexBlockTxs);
  Writer w;
  w.u8(kCodecVersion);
  w.varint(txs.size());
  for (const IndexTx& tx : txs) Codec<IndexTx>::write(w, tx);
  return w.take();
}

Decoded<std::vector<IndexTx>> decode_index_body(ByteView body) {
  Reader r(body);
  r.version();
  std::vector<IndexTx> txs;
  const std::size_t n = r.count(kMaxIndexBlockTxs, 3);
  txs.reserve(n);
  for (std::size_t i = 0; i < n && r.ok(); ++i) txs.push_back(Codec<IndexTx>::read(r));
  return r.finish(std::move(txs));
}

Hash index_merkle_root(const std::vector<IndexTx>& txs) {
  std::vector<Hash> leaves;
  leaves.reserve(txs.size());
  for (const IndexTx& tx : txs) leaves.push_back(index_tx_hash(tx));
  return merkle_root(leaves);
}

bool index_body_matches(const BlockHeader& h, const std::vector<IndexTx>& txs) {
  return h.entry_count == txs.size() && h.merkle_root == index_merkle_root(txs);
}

std::optional<std::string> membership_error(const Membership& m, const Topology& topology,
                                            const Verifier& verifier, bool header_checked) {
  const SignedHeader& sh = m.proof.header;
  if (sh.header.network != m.network) return "its proof is a block of another network";
  if (!header_checked)
    if (auto e = header_error(sh, topology, verifier)) return "its block: " + *e;
  if (auto e = entry_error(m.proof.registration, sh.header, topology, verifier))
    return "its registration: " + *e;
  const auto* reg = std::get_if<Registration>(&m.proof.registration.entry);
  if (!reg || reg->user != m.user || reg->node != m.node || reg->network != m.network)
    return "its proof registers another user or node";
  return std::nullopt;
}

}  // namespace mhr
