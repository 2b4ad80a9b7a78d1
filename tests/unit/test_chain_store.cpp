#include <doctest/doctest.h>

#include "common/chain_store.hpp"
#include "sample_data.hpp"

using namespace mhr;

namespace {

// Stores `r` as committed at height h, leaf i of a block of n entries.
void put(const ChainStore& chain, Store& store, const Record& r, std::uint64_t h) {
  WriteBatch b;
  chain.put_record(b, r, record_hash(r), {r.network, h, MerkleProof{0, 1, {}}});
  store.write(b);
}

}  // namespace

TEST_CASE("chain store: tips, known chains and per-user order") {
  auto store = open_memory_store();
  ChainStore chain(*store);
  KeyPair author = test::key_from_byte(1);
  UserId u = test::user_from_byte(4), other = test::user_from_byte(5);
  CHECK_FALSE(chain.tip(u, NetworkId{3}).has_value());

  Record r0 = test::sample_record(author, u, 0, Hash{});
  Record r1 = test::sample_record(author, u, 1, record_hash(r0));
  Record foreign = test::sample_record(author, u, 0, Hash{});
  foreign.network = NetworkId{1};
  sign_record(foreign, author);
  Record o0 = test::sample_record(author, other, 0, Hash{});
  for (const Record* r : {&r1, &r0, &foreign, &o0}) put(chain, *store, *r, 7);

  auto tip = chain.tip(u, NetworkId{3});
  REQUIRE(tip.has_value());
  CHECK(tip->sequence == 1);
  CHECK(tip->hash == record_hash(r1));
  CHECK(chain.record(u, NetworkId{3}, 0) == r0);
  CHECK(chain.record_count() == 4);
  CHECK(chain.has_record_hash(record_hash(foreign)));
  CHECK(chain.place_of(record_hash(r1))->height == 7);

  std::vector<KnownChain> known = chain.known_chains(u);
  REQUIRE(known.size() == 2);
  CHECK(known[0] == KnownChain{NetworkId{1}, 1});
  CHECK(known[1] == KnownChain{NetworkId{3}, 2});

  std::vector<std::uint64_t> order;
  chain.for_each_record(u, [&](const Hash& h, const Record& r) {
    CHECK(h == record_hash(r));
    CHECK(r.user == u);
    order.push_back(r.network.value * 100 + r.sequence);
  });
  CHECK(order == std::vector<std::uint64_t>{100, 300, 301});
}

TEST_CASE("chain store: headers by network and height, the last one per network") {
  auto store = open_memory_store();
  ChainStore chain(*store);
  CHECK_FALSE(chain.last_header(NetworkId{3}).has_value());
  WriteBatch b;
  Hash prev{};
  for (std::uint64_t h = 0; h < 300; ++h) {  // past 255: keys must order numerically
    SignedHeader sh{test::sample_header(h, prev), {}};
    prev = header_hash(sh.header);
    chain.put_header(b, sh);
  }
  SignedHeader elsewhere{test::sample_header(0, Hash{}), {}};
  elsewhere.header.network = NetworkId{4};
  chain.put_header(b, elsewhere);
  store->write(b);
  CHECK(chain.last_header(NetworkId{3})->header.height == 299);
  CHECK(chain.last_header(NetworkId{4})->header.network == NetworkId{4});
  CHECK(chain.header(NetworkId{3}, 256)->header.height == 256);
  CHECK_FALSE(chain.header(NetworkId{3}, 300).has_value());
}

TEST_CASE("chain store: big-endian keys and tagged keys") {
  Bytes b;
  append_be32(b, 0x01020304);
  append_be64(b, 0x0A0B0C0D0E0F1011ull);
  CHECK(read_be32(b) == 0x01020304u);
  CHECK(read_be64(ByteView(b).subspan(4)) == 0x0A0B0C0D0E0F1011ull);
  CHECK(tagged_key('x', b).view().front() == 'x');
  CHECK(tagged_key('x', b).size() == 13);
  CHECK(ByteView(tagged_key('x', b)).subspan(1).size() == b.size());
  // Keys built on the stack equal the byte strings they stand for.
  StoreKey k;
  k.u8('t').be32(0x01020304).be64(0x0A0B0C0D0E0F1011ull);
  Bytes expected{'t'};
  append_be32(expected, 0x01020304);
  append_be64(expected, 0x0A0B0C0D0E0F1011ull);
  CHECK(k == expected);
  CHECK(Bytes(k) == expected);
  CHECK(record_key(UserId{}, NetworkId{7}, 9).size() == 32 + 4 + 8);
}
