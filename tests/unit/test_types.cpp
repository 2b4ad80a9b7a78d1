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

  const Bytes source{4, 5, 6, 7};
  const SharedBytes copied{ByteView(source)};  // a copy, owned
  CHECK(copied.view().data() != source.data());
  CHECK(copied == SharedBytes(Bytes{4, 5, 6, 7}));
  CHECK(SharedBytes(ByteView()).empty());
}

TEST_CASE("types: shared bytes inside an owner's memory keep the owner alive") {
  auto frame = std::make_shared<const Bytes>(Bytes{9, 8, 7, 6, 5});
  const std::weak_ptr<const Bytes> watch = frame;
  SharedBytes middle(frame, ByteView(*frame).subspan(1, 3));
  CHECK(middle.view().data() == frame->data() + 1);  // no copy
  frame.reset();
  REQUIRE_FALSE(watch.expired());  // the view holds its owner
  CHECK(middle == SharedBytes(Bytes{8, 7, 6}));
  const SharedBytes own = middle.detached();  // kept long: its own buffer
  middle = SharedBytes();
  CHECK(watch.expired());
  CHECK(own == SharedBytes(Bytes{8, 7, 6}));
}
