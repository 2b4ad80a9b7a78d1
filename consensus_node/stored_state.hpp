// How a consensus node keeps its state in its store: the keys of its
// tables and the encodings of small values. Shared by consensus_node.cpp
// and consensus_group.cpp, nothing else.
#pragma once

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

#include "common/chain_store.hpp"
#include "consensus_node/block_body.hpp"

namespace mhr::stored {

inline constexpr std::uint8_t kTipTag = 't';          // kUsers: committed chain tip of a user
inline constexpr std::uint8_t kOutgoingOwnTag = 'o';  // kPending: own block not fully acked
inline constexpr std::uint8_t kForeignTag = 'f';      // kPending: foreign delivery to distribute
inline constexpr std::uint8_t kAgreementTag = 'b';    // kPending: the replica's PBFT state

// A user's committed chain tip as stored, built on the stack: one is
// written for every record committed.
struct TipValue {
  std::array<std::uint8_t, 10 + Hash::kSize> bytes;  // a varint and a hash
  std::size_t size = 0;
  operator ByteView() const { return ByteView(bytes.data(), size); }  // NOLINT: it is its bytes
};

inline TipValue encode_tip(const ChainTip& t) {
  TipValue v;
  Writer w = Writer::into(v.bytes);
  w.varint(t.sequence);
  w.fixed(t.hash);
  v.size = w.size();
  return v;
}

inline ChainTip decode_tip(ByteView v) {
  Reader r(v);
  ChainTip t{r.varint(), r.fixed_as<Hash>()};
  MHR_ASSERT_MSG(!r.finish_error(), "stored chain tip does not decode");
  return t;
}

// Read in place: looked up for nearly every record ordered.
inline std::optional<ChainTip> committed_tip(const Store& store, const UserId& user) {
  std::optional<ChainTip> tip;
  store.read(Table::kUsers, tagged_key(kTipTag, user.view()),
             [&tip](ByteView v) { tip = decode_tip(v); });
  return tip;
}

inline std::vector<PlacedEntry> body(const std::optional<Bytes>& body) {
  MHR_ASSERT_MSG(body.has_value(), "committed block body missing from the store");
  auto entries = decode_block_body(*body);
  MHR_ASSERT_MSG(entries.ok(), "stored block body does not decode");
  return std::move(entries).value();
}

inline StoreKey encode_height(std::uint64_t h) {  // a value, built on the stack like a key
  StoreKey v;
  v.be64(h);
  return v;
}

inline StoreKey outgoing_key(std::uint64_t height) {
  StoreKey k;
  k.u8(kOutgoingOwnTag).be64(height);
  return k;
}

// 'f', the block's header key, the hash of the delivery.
inline StoreKey foreign_key(NetworkId network, std::uint64_t height, const Hash& delivery_hash) {
  StoreKey k;
  k.u8(kForeignTag).be32(network.value).be64(height).append(delivery_hash.view());
  return k;
}

template <class Nodes>  // std::vector<NodeId> or Holders
void insert_sorted(Nodes& v, NodeId n) {
  auto at = std::lower_bound(v.begin(), v.end(), n);
  if (at == v.end() || *at != n) v.insert(at, n);
}

}  // namespace mhr::stored
