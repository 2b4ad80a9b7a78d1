// NetworkTable: the inter-network sharing table of an index node — for each
// user, the edge networks where the user is registered, in the order this
// node learned them (the first is where the user's history began). Kept in
// memory and written through to the store.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/inlined_vector.h>
#include <span>
#include <vector>

#include "common/store.hpp"
#include "common/types.hpp"

namespace mhr {

class NetworkTable {
 public:
  void load(const Store& store);
  std::span<const NetworkId> networks(const UserId& user) const;
  bool contains(const UserId& user, NetworkId network) const;
  // Networks of the user other than `except`, first learned first.
  std::vector<NetworkId> others(const UserId& user, NetworkId except) const;
  // False when the user was known there already; the change goes into batch.
  bool add(WriteBatch& batch, const UserId& user, NetworkId network);
  std::size_t size() const { return rows_.size(); }

 private:
  // Most users are in one or two networks: their row lives in the map's
  // slot, one cache miss away (every index node holds every user's row).
  using Row = absl::InlinedVector<NetworkId, 2>;
  absl::flat_hash_map<UserId, Row, std::hash<UserId>> rows_;  // never iterated
};

}  // namespace mhr
