#include "consensus_node/block_body.hpp"

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
