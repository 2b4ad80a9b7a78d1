#include "consensus_node/block_body.hpp"

#include "common/hash_writer.hpp"
#include "common/merkle.hpp"

namespace mhr {

namespace {
constexpr std::size_t kMaxHolders = 1'000'000;
}

Bytes encode_block_body(const std::vector<PlacedEntry>& entries) {
  MHR_ASSERT(entries.size() <= kMaxBlockEntries);
  Writer w;
  w.u8(kCodecVersion);
  w.varint(entries.size());
  for (const auto& p : entries) {
    Codec<Entry>::write(w, p.entry);
    w.varint(p.origin.value);
    w.varint(p.holders.size());
    for (NodeId n : p.holders) w.varint(n.value);
  }
  return w.take();
}

Hash placement_hash(const std::vector<PlacedEntry>& entries) {
  return sha256_of_writing([&entries](Writer& w) {
    w.str("mhr-placement-v1");
    w.varint(entries.size());
    for (const auto& p : entries) {
      w.fixed(p.hash);
      w.varint(p.origin.value);
      w.varint(p.holders.size());
      for (NodeId n : p.holders) w.varint(n.value);
    }
  });
}

std::optional<std::string> body_mismatch(const BlockHeader& header,
                                         const std::vector<PlacedEntry>& entries) {
  if (entries.size() != header.entry_count) return "wrong entry count";
  std::vector<Hash> leaves;
  leaves.reserve(entries.size());
  for (const PlacedEntry& p : entries) leaves.push_back(p.hash);
  if (merkle_root(leaves) != header.merkle_root) return "the Merkle root does not match the body";
  if (placement_hash(entries) != header.placement_hash)
    return "the placement hash does not match the holders";
  return std::nullopt;
}

Decoded<std::vector<PlacedEntry>> decode_block_body(ByteView in) {
  Reader r(in);
  r.version();
  std::vector<PlacedEntry> out(r.count(kMaxBlockEntries));
  for (auto& p : out) {
    if (!r.ok()) break;
    p.entry = Codec<Entry>::read(r);
    p.hash = entry_hash(p.entry);
    p.origin = NodeId{r.u32()};
    p.holders.resize(r.count(kMaxHolders));
    for (NodeId& n : p.holders) n = NodeId{r.u32()};
  }
  return r.finish(std::move(out));
}

}  // namespace mhr
