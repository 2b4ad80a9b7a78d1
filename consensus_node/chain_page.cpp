#include "consensus_node/chain_page.hpp"

#include <map>

#include "consensus_node/block_body.hpp"

namespace mhr {

namespace {

constexpr std::size_t kMaxPageBytes = 4u << 20;

// One stored block body at a time, with the tree that proves its entries.
class BodyReader {
 public:
  BodyReader(const ChainStore& chain, NetworkId network) : chain_(chain), network_(network) {}

  // The record with this hash in the block at `height`, and its proof.
  std::pair<const Record*, MerkleProof> find(std::uint64_t height, const Hash& h) {
    load(height);
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].hash != h) continue;
      const auto* r = std::get_if<Record>(&entries_[i].entry);
      MHR_ASSERT_MSG(r, "a chain link names an entry that is not a record");
      return {r, tree_->prove(i)};
    }
    MHR_ASSERT_MSG(false, "record index names a block without the record");
    return {nullptr, {}};
  }

 private:
  void load(std::uint64_t height) {
    if (height_ == height && tree_) return;
    auto body = chain_.store().get(Table::kBlocks, header_key(network_, height));
    MHR_ASSERT_MSG(body.has_value(), "committed block body missing from the store");
    auto decoded = decode_block_body(*body);
    MHR_ASSERT_MSG(decoded.ok(), "stored block body does not decode");
    entries_ = std::move(decoded).value();
    std::vector<Hash> leaves;
    for (const auto& p : entries_) leaves.push_back(p.hash);
    tree_.emplace(leaves);
    height_ = height;
  }

  const ChainStore& chain_;
  NetworkId network_;
  std::uint64_t height_ = 0;
  std::vector<PlacedEntry> entries_;
  std::optional<MerkleTree> tree_;
};

// A record met walking a chain back, with what the page needs of it: read
// as the walk passes its block, so no block is decoded (and hashed) twice.
struct Link {
  std::uint64_t height = 0;
  Record record;
  MerkleProof proof;
};

}  // namespace

HistoryBatch own_chain_page(const ChainStore& chain, NetworkId network, const UserId& user,
                            std::uint64_t from_sequence, const std::optional<ChainTip>& tip) {
  // Walk back from the tip by the records' links, then answer from the
  // bottom. Only the last kMaxHistoryRecords links walked can be on the
  // page: the records of those before them are not kept.
  std::vector<Link> links;  // tip first
  BodyReader bodies(chain, network);
  std::optional<Hash> at;
  if (tip && tip->sequence >= from_sequence) at = tip->hash;
  while (at) {
    auto place = chain.store().get(Table::kRecordIndex, at->view());
    MHR_ASSERT_MSG(place.has_value(), "committed record missing from the record index");
    const std::uint64_t height = read_be64(*place);
    auto [record, proof] = bodies.find(height, *at);
    if (links.size() >= kMaxHistoryRecords) links[links.size() - kMaxHistoryRecords] = {};
    links.push_back({height, *record, std::move(proof)});
    at.reset();
    if (record->sequence > from_sequence) at = record->prev_hash;
  }
  HistoryBatch page{0, user, {}, {}, true, {}};
  std::map<std::uint64_t, std::uint32_t> header_index;
  std::size_t bytes = 0;
  for (auto it = links.rbegin(); it != links.rend(); ++it) {
    if (page.items.size() >= kMaxHistoryRecords || bytes >= kMaxPageBytes) {
      page.last = false;
      break;
    }
    auto hi = header_index.find(it->height);
    if (hi == header_index.end()) {
      auto sh = chain.header(network, it->height);
      MHR_ASSERT_MSG(sh.has_value(), "committed block header missing from the store");
      hi = header_index.emplace(it->height, static_cast<std::uint32_t>(page.headers.size())).first;
      page.headers.push_back(std::move(*sh));
    }
    bytes += it->record.payload.size() + 256;
    page.items.push_back({std::move(it->record), hi->second, std::move(it->proof)});
  }
  return page;
}

}  // namespace mhr
