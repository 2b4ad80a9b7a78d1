#include "consensus_node/sharing_table.hpp"

#include <algorithm>

#include "common/chain_store.hpp"
#include "common/codec.hpp"

namespace mhr {

namespace {
constexpr std::uint8_t kRowTag = 's';
constexpr std::size_t kMaxHoldersPerUser = 100'000;
enum RemoteCode : std::uint8_t { kUnknown = 0, kNo = 1, kYes = 2 };

Bytes row_key(const UserId& user) {
  return tagged_key(kRowTag, user.view());
}
}  // namespace

void SharingTable::load(const Store& store) {
  rows_.clear();
  store.scan_prefix(Table::kUsers, Bytes{kRowTag}, [&](ByteView key, ByteView value) {
    Reader r(value);
    Row row;
    std::uint8_t remote = r.u8();
    if (remote != kUnknown) row.remote = remote == kYes;
    std::size_t n = r.count(kMaxHoldersPerUser);
    for (std::size_t i = 0; i < n && r.ok(); ++i) row.holders.push_back(NodeId{r.u32()});
    MHR_ASSERT_MSG(!r.finish_error(), "stored sharing table row does not decode");
    rows_[UserId::from_view(key.subspan(1))] = std::move(row);
    return true;
  });
}

const SharingTable::Row* SharingTable::find(const UserId& user) const {
  auto it = rows_.find(user);
  return it == rows_.end() ? nullptr : &it->second;
}

const std::vector<NodeId>& SharingTable::holders(const UserId& user) const {
  static const std::vector<NodeId> kNone;
  const Row* row = find(user);
  return row ? row->holders : kNone;
}

bool SharingTable::holds(const UserId& user, NodeId node) const {
  const auto& h = holders(user);
  return std::binary_search(h.begin(), h.end(), node);
}

bool SharingTable::add_holder(WriteBatch& batch, const UserId& user, NodeId node) {
  Row& row = rows_[user];
  auto at = std::lower_bound(row.holders.begin(), row.holders.end(), node);
  if (at != row.holders.end() && *at == node) return false;
  MHR_ASSERT(row.holders.size() < kMaxHoldersPerUser);
  row.holders.insert(at, node);
  persist(batch, user, row);
  return true;
}

bool SharingTable::set_remote(WriteBatch& batch, const UserId& user, bool remote) {
  Row& row = rows_[user];
  if (row.remote == remote) return false;
  row.remote = remote;
  persist(batch, user, row);
  return true;
}

void SharingTable::persist(WriteBatch& batch, const UserId& user, const Row& row) const {
  Writer w;
  w.u8(!row.remote ? kUnknown : (*row.remote ? kYes : kNo));
  w.varint(row.holders.size());
  for (NodeId n : row.holders) w.varint(n.value);
  batch.put(Table::kUsers, row_key(user), w.data());
}

}  // namespace mhr
