// SharingTable: the intra-network sharing relationship table of a consensus
// node — for each user, the record nodes of this network that hold the user,
// and whether the user is registered in other networks (as the index node
// last said). Kept in memory, written through to the store.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <optional>
#include <vector>

#include "common/store.hpp"
#include "common/types.hpp"

namespace mhr {

class SharingTable {
 public:
  struct Row {
    std::vector<NodeId> holders;  // sorted, no repeats
    std::optional<bool> remote;   // unknown until the index node says
  };

  void load(const Store& store);
  const Row* find(const UserId& user) const;
  const std::vector<NodeId>& holders(const UserId& user) const;
  bool holds(const UserId& user, NodeId node) const;
  // Both return false when nothing changed; changes go into `batch`.
  bool add_holder(WriteBatch& batch, const UserId& user, NodeId node);
  bool set_remote(WriteBatch& batch, const UserId& user, bool remote);
  std::size_t size() const { return rows_.size(); }

 private:
  void persist(WriteBatch& batch, const UserId& user, const Row& row) const;
  absl::flat_hash_map<UserId, Row, std::hash<UserId>> rows_;  // never iterated: no order leaks
};

}  // namespace mhr
