#include <doctest/doctest.h>

#include "common/block.hpp"
#include "sample_data.hpp"

using namespace mhr;

TEST_CASE("block: signed headers round-trip and hash without their signatures") {
  SignedHeader sh{test::sample_header(0, Hash{}), {}};
  Hash unsigned_hash = header_hash(sh.header);
  add_signature(sh, NodeId{2}, test::key_from_byte(2));
  add_signature(sh, NodeId{1}, test::key_from_byte(1));
  REQUIRE(sh.signatures.size() == 2);
  CHECK(sh.signatures[0].signer == NodeId{1});  // kept sorted
  CHECK(header_hash(sh.header) == unsigned_hash);

  Bytes b = encode(sh);
  auto back = decode<SignedHeader>(b);
  REQUIRE(back.ok());
  CHECK(back.value() == sh);
  CHECK(encode(back.value()) == b);
}

TEST_CASE("block: quorum verification counts distinct valid validator signatures") {
  ValidatorSet vs;
  for (std::uint8_t i = 1; i <= 4; ++i)
    vs.members.push_back({NodeId{i}, test::key_from_byte(i).public_key()});
  vs.quorum = 3;  // n = 4, f = 1

  SignedHeader sh{test::sample_header(5, sha256(as_bytes("prev"))), {}};
  add_signature(sh, NodeId{1}, test::key_from_byte(1));
  add_signature(sh, NodeId{2}, test::key_from_byte(2));
  CHECK_FALSE(verify_quorum(sh, vs));  // 2 < 3
  add_signature(sh, NodeId{9}, test::key_from_byte(9));
  CHECK_FALSE(verify_quorum(sh, vs));  // an outsider does not count
  add_signature(sh, NodeId{3}, test::key_from_byte(7));
  CHECK_FALSE(verify_quorum(sh, vs));  // signed with the wrong key
  add_signature(sh, NodeId{3}, test::key_from_byte(3));
  CHECK(verify_quorum(sh, vs));

  SignedHeader changed = sh;
  changed.header.entry_count += 1;  // signatures no longer match
  CHECK_FALSE(verify_quorum(changed, vs));

  SignedHeader dup = sh;
  dup.signatures = {sh.signatures[0], sh.signatures[0], sh.signatures[0]};
  CHECK_FALSE(verify_quorum(dup, vs));
}

TEST_CASE("block: headers link by height and previous hash") {
  BlockHeader h0 = test::sample_header(0, Hash{});
  BlockHeader h1 = test::sample_header(1, header_hash(h0));
  CHECK_FALSE(header_link_error(h0, nullptr));
  CHECK_FALSE(header_link_error(h1, &h0));
  CHECK(header_link_error(h1, nullptr));
  BlockHeader skip = test::sample_header(2, header_hash(h0));
  CHECK(header_link_error(skip, &h0));
  BlockHeader wrong = test::sample_header(1, sha256(as_bytes("other")));
  CHECK(header_link_error(wrong, &h0));
  BlockHeader other_net = h1;
  other_net.network = NetworkId{99};
  CHECK(header_link_error(other_net, &h0));
}

TEST_CASE("block: unsorted or repeated signers are non-canonical") {
  SignedHeader sh{test::sample_header(1, Hash{}), {}};
  add_signature(sh, NodeId{1}, test::key_from_byte(1));
  add_signature(sh, NodeId{2}, test::key_from_byte(2));
  std::swap(sh.signatures[0], sh.signatures[1]);
  Writer w;
  w.u8(kCodecVersion);
  Codec<SignedHeader>::write(w, sh);
  auto back = decode<SignedHeader>(w.data());
  REQUIRE_FALSE(back.ok());
  CHECK(back.error() == DecodeError::kNonCanonical);
}
