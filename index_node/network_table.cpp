#include "index_node/network_table.hpp"

#include <algorithm>

#include "common/chain_store.hpp"
#include "common/codec.hpp"

namespace mhr {

namespace {
constexpr std::uint8_t kRowTag = 'n';
constexpr std::size_t kMaxNetworksPerUser = 65'536;

StoreKey row_key(const UserId& user) {
  return tagged_key(kRowTag, user.view());
}
}  // namespace

void NetworkTable::load(const Store& store) {
  rows_.clear();
  store.scan_prefix(Table::kUsers, Bytes{kRowTag}, [&](ByteView key, ByteView value) {
    Reader r(value);
    Row nets(r.count(kMaxNetworksPerUser));
    for (NetworkId& n : nets) n = NetworkId{r.u32()};
    MHR_ASSERT_MSG(!r.finish_error(), "stored network table row does not decode");
    rows_[UserId::from_view(key.subspan(1))] = std::move(nets);
    return true;
  });
}

std::span<const NetworkId> NetworkTable::networks(const UserId& user) const {
  auto it = rows_.find(user);
  if (it == rows_.end()) return {};
  return {it->second.data(), it->second.size()};
}

bool NetworkTable::contains(const UserId& user, NetworkId network) const {
  const auto n = networks(user);
  return std::find(n.begin(), n.end(), network) != n.end();
}

std::vector<NetworkId> NetworkTable::others(const UserId& user, NetworkId except) const {
  std::vector<NetworkId> out;
  for (NetworkId n : networks(user))
    if (n != except) out.push_back(n);
  return out;
}

bool NetworkTable::add(WriteBatch& batch, const UserId& user, NetworkId network) {
  auto& nets = rows_[user];
  if (std::find(nets.begin(), nets.end(), network) != nets.end()) return false;
  MHR_ASSERT(nets.size() < kMaxNetworksPerUser);
  nets.push_back(network);
  const auto write_row = [&nets](Writer& w) {
    w.varint(nets.size());
    for (NetworkId n : nets) w.varint(n.value);
  };
  batch.put_written(Table::kUsers, row_key(user), size_of_writing(write_row), write_row);
  return true;
}

}  // namespace mhr
