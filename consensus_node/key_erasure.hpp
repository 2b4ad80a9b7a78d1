// A consensus node's part in erasure by key destruction: the block bodies
// it keeps hold the patient acts it ordered, sealed data keys included.
// When a user's erasure is ordered here or forwarded here, every stored act
// of that user carrying sealed keys loses its payload (its hash, and so the
// Merkle root, stays), and later ones are stored without it.
#pragma once

#include <set>
#include <vector>

#include "common/store.hpp"
#include "consensus_node/block_body.hpp"

namespace mhr {

class KeyErasure {
 public:
  KeyErasure(const Store& store, NetworkId network) : store_(store), network_(network) {}

  // Applies the erasure rules to the entries of the block at `height`
  // before its body is written (in `batch`, with it).
  void on_block(WriteBatch& batch, std::vector<PlacedEntry>& entries, std::uint64_t height);
  // An erasure that arrived from another network.
  void on_foreign_record(WriteBatch& batch, const Record& r);

 private:
  bool erased(const UserId& user, const std::set<UserId>& now) const;
  void mark_erased(WriteBatch& batch, const UserId& user);
  // Rewrites the stored bodies below `height` holding the user's keys.
  void erase_stored(WriteBatch& batch, const UserId& user);

  const Store& store_;
  NetworkId network_;
};

}  // namespace mhr
