#include <doctest/doctest.h>

#include <array>
#include <memory>

#include "common/record.hpp"
#include "sample_data.hpp"

using namespace mhr;

TEST_CASE("record: encodes, decodes and re-encodes byte for byte") {
  KeyPair author = test::key_from_byte(1);
  Record r = test::sample_record(author, test::user_from_byte(2), 0, Hash{});
  Bytes b = encode(r);
  auto back = decode<Record>(b);
  REQUIRE(back.ok());
  CHECK(back.value() == r);
  CHECK(encode(back.value()) == b);
  CHECK(record_hash(back.value()) == record_hash(r));

  Record off = r;
  off.payload = {};
  off.off_chain = OffChainRef{sha256(as_bytes("x-ray")), 12'345'678};
  off.supersedes = record_hash(r);
  off.category = Category::kInsurance;
  sign_record(off, author);
  auto off_back = decode<Record>(encode(off));
  REQUIRE(off_back.ok());
  CHECK(off_back.value() == off);
}

TEST_CASE("record: author signature covers every field") {
  KeyPair author = test::key_from_byte(1);
  Record r = test::sample_record(author, test::user_from_byte(2), 0, Hash{});
  CHECK(verify_record_signature(r));

  Record changed = r;
  changed.payload = SharedBytes(as_bytes("{\"resourceType\":\"Condition\"}"));
  CHECK_FALSE(verify_record_signature(changed));
  changed = r;
  changed.sequence = 1;
  CHECK_FALSE(verify_record_signature(changed));
  changed = r;
  changed.category = Category::kBilling;
  CHECK_FALSE(verify_record_signature(changed));
  changed = r;
  changed.author_key = test::key_from_byte(3).public_key();
  CHECK_FALSE(verify_record_signature(changed));
}

TEST_CASE("record: a user's timeline is a hash chain") {
  KeyPair author = test::key_from_byte(1);
  UserId u = test::user_from_byte(5);
  Record r0 = test::sample_record(author, u, 0, Hash{});
  Record r1 = test::sample_record(author, u, 1, record_hash(r0));
  Record r2 = test::sample_record(author, u, 2, record_hash(r1));

  CHECK_FALSE(chain_continuity_error(r0, std::nullopt));
  CHECK_FALSE(chain_continuity_error(r1, ChainTip{0, record_hash(r0)}));
  CHECK_FALSE(chain_continuity_error(r2, ChainTip{1, record_hash(r1)}));

  CHECK(chain_continuity_error(r1, std::nullopt));                  // not first
  CHECK(chain_continuity_error(r2, ChainTip{0, record_hash(r0)}));  // gap
  CHECK(chain_continuity_error(r1, ChainTip{0, record_hash(r1)}));  // wrong link
  Record fake_first = test::sample_record(author, u, 0, record_hash(r0));
  CHECK(chain_continuity_error(fake_first, std::nullopt));
}

TEST_CASE("record: unknown category and body kinds are typed errors") {
  KeyPair author = test::key_from_byte(1);
  Record r = test::sample_record(author, test::user_from_byte(2), 0, Hash{});
  Bytes b = encode(r);
  // Category byte sits right after the content type string.
  std::size_t category_at = 1 + 32 + 1 + 1 + 32 + 1 + 32 + 8 + 1 + r.content_type.size();
  REQUIRE(b[category_at] == 0);
  b[category_at] = 9;
  auto bad = decode<Record>(b);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error() == DecodeError::kUnknownType);
}

TEST_CASE("record: category names") {
  CHECK(category_name(Category::kBilling) == "billing");
  CHECK(parse_category("insurance") == Category::kInsurance);
  CHECK_FALSE(parse_category("surgery").has_value());
}

TEST_CASE("record: a payload's remembered digest never outlives its buffer") {
  KeyPair author = test::key_from_byte(1);
  Record r = test::sample_record(author, test::user_from_byte(2), 0, Hash{});
  // One buffer seen through two owners in turn, its bytes changed between:
  // what a freed and reused allocation looks like to the memo.
  std::array<std::uint8_t, 64> buffer{};
  buffer.fill(0xAA);
  const ByteView view(buffer.data(), buffer.size());
  auto first_owner = std::make_shared<int>(1);
  r.payload = SharedBytes(first_owner, view);
  CHECK(payload_digest(r) == sha256(view));
  CHECK(payload_digest(r) == sha256(view));  // a hit: same buffer, owner alive
  const Hash first = sha256(view);

  r.payload = {};
  first_owner.reset();
  buffer.fill(0x55);
  auto second_owner = std::make_shared<int>(2);
  r.payload = SharedBytes(second_owner, view);
  CHECK(payload_digest(r) == sha256(view));
  CHECK(payload_digest(r) != first);

  // Another buffer, and a payload with no owner at all, are hashed as they are.
  Record copy = r;
  copy.payload = SharedBytes(as_bytes("other bytes"));
  CHECK(payload_digest(copy) == sha256(as_bytes("other bytes")));
  CHECK(payload_digest(r) == sha256(view));
}
