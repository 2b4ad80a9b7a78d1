#include <doctest/doctest.h>

#include "consensus_node/block_body.hpp"
#include "consensus_node/sharing_table.hpp"
#include "index_node/network_table.hpp"

using namespace mhr;

namespace {
std::vector<NetworkId> as_vector(std::span<const NetworkId> s) {
  return {s.begin(), s.end()};
}

UserId user(std::uint8_t b) {
  UserId u;
  u.bytes.fill(b);
  return u;
}
}  // namespace

TEST_CASE("sharing table: holders sorted, remote flag, survives a reload") {
  auto store = open_memory_store();
  SharingTable t;
  WriteBatch b;
  CHECK(t.add_holder(b, user(1), NodeId{5}));
  CHECK(t.add_holder(b, user(1), NodeId{2}));
  CHECK_FALSE(t.add_holder(b, user(1), NodeId{5}));
  CHECK(t.set_remote(b, user(1), true));
  CHECK_FALSE(t.set_remote(b, user(1), true));
  store->write(b);
  CHECK(t.holders(user(1)) == std::vector<NodeId>{NodeId{2}, NodeId{5}});
  CHECK(t.holds(user(1), NodeId{2}));
  CHECK_FALSE(t.holds(user(2), NodeId{2}));

  SharingTable reloaded;
  reloaded.load(*store);
  CHECK(reloaded.holders(user(1)) == t.holders(user(1)));
  CHECK(reloaded.find(user(1))->remote == std::optional<bool>(true));
  CHECK(reloaded.find(user(2)) == nullptr);
}

TEST_CASE("network table: networks per user in learned order, others, survives a reload") {
  auto store = open_memory_store();
  NetworkTable t;
  WriteBatch b;
  CHECK(t.add(b, user(1), NetworkId{3}));
  CHECK(t.add(b, user(1), NetworkId{0}));
  CHECK_FALSE(t.add(b, user(1), NetworkId{3}));
  store->write(b);
  CHECK(as_vector(t.networks(user(1))) ==
        std::vector<NetworkId>{NetworkId{3}, NetworkId{0}});  // learned order
  CHECK(t.others(user(1), NetworkId{3}) == std::vector<NetworkId>{NetworkId{0}});
  CHECK(t.others(user(9), NetworkId{3}).empty());
  NetworkTable reloaded;
  reloaded.load(*store);
  CHECK(as_vector(reloaded.networks(user(1))) == as_vector(t.networks(user(1))));
}

TEST_CASE("block body: entries, origins and holders round-trip; damage is an error") {
  Registration reg{user(1), NetworkId{0}, NodeId{2}, PublicKey{}, 5, Signature{}};
  std::vector<PlacedEntry> body{{reg, entry_hash(Entry{reg}), NodeId{2}, {NodeId{2}, NodeId{4}}}};
  Bytes enc = encode_block_body(body);
  auto back = decode_block_body(enc);
  REQUIRE(back.ok());
  REQUIRE(back.value().size() == 1);
  CHECK(back.value()[0].hash == body[0].hash);
  CHECK(back.value()[0].holders == body[0].holders);
  enc.pop_back();
  CHECK_FALSE(decode_block_body(enc).ok());
}
