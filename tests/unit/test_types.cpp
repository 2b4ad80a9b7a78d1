#include <doctest/doctest.h>

#include <unordered_set>

#include "common/types.hpp"

using namespace mhr;

TEST_CASE("types: hashes go in and out as hex") {
  auto h = Hash::parse_hex("00ff10aB" + std::string(56, '0'));
  REQUIRE(h.has_value());
  CHECK(h->bytes[1] == 0xFF);
  CHECK(h->bytes[3] == 0xAB);
  CHECK(h->hex() == "00ff10ab" + std::string(56, '0'));
  CHECK(h->short_hex() == "00ff10ab");
  CHECK_FALSE(Hash::parse_hex("abc").has_value());  // odd length
  CHECK_FALSE(Hash::parse_hex(std::string(64, 'g')).has_value());
  CHECK_FALSE(Hash::parse_hex(std::string(62, '0')).has_value());  // 31 bytes
  CHECK(UserId::parse_hex(std::string(64, 'f'))->bytes[31] == 0xFF);
}

TEST_CASE("types: identifiers order, compare and hash") {
  CHECK(NodeId{1} < NodeId{2});
  CHECK(to_string(NodeId{4}) == "n4");
  CHECK(to_string(NetworkId{2}) == "net2");
  CHECK(to_string(kIndexNetwork) == "index");
  std::unordered_set<UserId> users;
  users.insert(UserId::parse_hex(std::string(64, '1')).value());
  users.insert(UserId::parse_hex(std::string(64, '1')).value());
  CHECK(users.size() == 1);
}

TEST_CASE("types: shared bytes share one buffer") {
  SharedBytes a(Bytes{1, 2, 3});
  SharedBytes b = a;
  CHECK(a.view().data() == b.view().data());
  CHECK(a == SharedBytes(Bytes{1, 2, 3}));
  CHECK(SharedBytes().empty());
}
