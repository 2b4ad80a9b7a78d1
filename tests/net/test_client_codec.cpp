// Client frames: canonical round trips, limits, and hostile input.
#include <doctest/doctest.h>

#include <cstdlib>
#include <random>

#include "common/client_codec.hpp"

using namespace mhr;

namespace {

std::uint64_t test_seed(std::uint64_t fallback) {
  if (const char* s = std::getenv("MHR_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  return fallback;
}

UserId user(std::uint8_t b) {
  UserId u;
  u.bytes.fill(b);
  return u;
}

Record sample_record(std::uint64_t sequence, std::string payload) {
  SecretSeed seed;
  seed.bytes.fill(7);
  KeyPair author = KeyPair::from_seed(seed);
  Record r;
  r.user = user(0xA1);
  r.network = NetworkId{2};
  r.author_node = NodeId{5};
  r.author_key = author.public_key();
  r.sequence = sequence;
  r.created_at_us = 1'700'000'000'000'000 + static_cast<TimeUs>(sequence);
  r.content_type = "Observation";
  r.category = Category::kBilling;
  r.payload = SharedBytes(as_bytes(payload));
  sign_record(r, author);
  return r;
}

SubmitRecordRequest sample_submit() {
  SubmitRecordRequest s;
  s.user = user(0xB2);
  s.content_type = "DiagnosticReport";
  s.category = Category::kInsurance;
  s.payload = SharedBytes(as_bytes("{\"resourceType\":\"DiagnosticReport\"}"));
  return s;
}

template <class T>
void check_round_trip(const T& v) {
  Bytes b = encode(v);
  auto decoded = decode<T>(b);
  REQUIRE(decoded.ok());
  CHECK(decoded.value() == v);
  CHECK(encode(decoded.value()) == b);
}

template <class T>
std::optional<DecodeError> decode_error(const Bytes& b) {
  auto d = decode<T>(b);
  if (d.ok()) return std::nullopt;
  return d.error();
}

// Either a typed error or a value that re-encodes to the same bytes.
template <class T>
bool decodes_safely(ByteView in) {
  auto decoded = decode<T>(in);
  if (!decoded.ok()) return true;
  Bytes again = encode(decoded.value());
  return again.size() == in.size() && std::equal(again.begin(), again.end(), in.begin());
}

Bytes mutate(Bytes b, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  switch (rng() % 5) {
    case 0:
      if (!b.empty()) b[pick(b.size())] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
      break;
    case 1:
      b.resize(pick(b.size() + 1));
      break;
    case 2:
      b.push_back(static_cast<std::uint8_t>(rng()));
      break;
    case 3:
      if (!b.empty()) b[pick(b.size())] = (rng() & 1) ? 0xFF : 0x00;
      break;
    default:
      if (!b.empty()) b.erase(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size())));
  }
  return b;
}

}  // namespace

TEST_CASE("client codec: every request kind round-trips") {
  check_round_trip(ClientRequestFrame{0, RegisterUserRequest{user(1), {}}});
  check_round_trip(ClientRequestFrame{1ull << 40, ReadUserRequest{user(2), {}}});
  SubmitRecordRequest s = sample_submit();
  check_round_trip(ClientRequestFrame{7, s});
  s.supersedes = sha256(as_bytes("old"));
  check_round_trip(ClientRequestFrame{8, s});
  s.payload = {};
  s.off_chain = OffChainRef{sha256(as_bytes("scan")), 48'000'000};
  check_round_trip(ClientRequestFrame{9, s});
  s.content_type = std::string(kMaxContentTypeBytes, 'x');
  s.payload = SharedBytes(Bytes(kMaxInlinePayloadBytes, 0x5A));
  check_round_trip(ClientRequestFrame{UINT64_MAX, s});
  const Hash blob = sha256(as_bytes("blob"));
  check_round_trip(ClientRequestFrame{
      10, PutBlobRequest{user(4), blob, kManifestPart, SharedBytes(as_bytes("m")), {}}});
  check_round_trip(ClientRequestFrame{
      11, PutBlobRequest{user(4), blob, 3, SharedBytes(Bytes(kBlobChunkBytes, 1)), {}}});
  check_round_trip(ClientRequestFrame{12, ReadBlobRequest{user(4), blob, 0, {}}});
  ClientReply part = make_reply(ReplyStatus::kOk, "patient");
  part.blob_part = SharedBytes(Bytes(kBlobChunkBytes, 2));
  check_round_trip(ClientReplyFrame{13, part});
}

TEST_CASE("client codec: replies round-trip with every status, hash and records") {
  check_round_trip(ClientReplyFrame{1, ClientReply{}});
  check_round_trip(ClientReplyFrame{2, ClientReply{ReplyStatus::kRejected,
                                                   "user not registered here",
                                                   std::nullopt,
                                                   {},
                                                   {},
                                                   {},
                                                   {},
                                                   {},
                                                   {}}});
  Record r0 = sample_record(0, "{\"a\":1}");
  Record r1 = sample_record(1, "{\"b\":2}");
  r1.prev_hash = record_hash(r0);
  Record off = sample_record(2, "");
  off.payload = {};
  off.off_chain = OffChainRef{sha256(as_bytes("x-ray")), 3'000'000};
  off.supersedes = record_hash(r0);
  check_round_trip(ClientReplyFrame{
      3, ClientReply{
             ReplyStatus::kOk, "3 records", record_hash(r1), {r0, r1, off}, {}, {}, {}, {}, {}}});
  ClientReply proven = make_reply(ReplyStatus::kOk, "patient");
  proven.records = {r0};
  proven.proofs = {
      RecordPlace{NetworkId{2}, 9, MerkleProof{1, 4, {record_hash(r1), record_hash(off)}}}};
  SignedHeader sh;
  sh.header.network = NetworkId{2};
  sh.header.height = 9;
  proven.headers = {sh};
  check_round_trip(ClientReplyFrame{6, proven});
  check_round_trip(ClientReplyFrame{4, ClientReply{ReplyStatus::kUnavailable,
                                                   std::string(kMaxDetailBytes, 'd'),
                                                   {},
                                                   {},
                                                   {},
                                                   {},
                                                   {},
                                                   {},
                                                   {}}});
}

TEST_CASE("client codec: unknown tags, statuses, categories and limits are refused") {
  Bytes reg = encode(ClientRequestFrame{5, RegisterUserRequest{user(1), {}}});
  // [version][id=5][tag]...
  Bytes bad_tag = reg;
  bad_tag[2] = static_cast<std::uint8_t>(std::variant_size_v<ClientRequest>);
  CHECK(decode_error<ClientRequestFrame>(bad_tag) == DecodeError::kUnknownType);

  Bytes submit = encode(ClientRequestFrame{5, sample_submit()});
  // Category follows the user (32 bytes) and the content type.
  std::size_t category_at = 3 + 32 + 1 + sample_submit().content_type.size();
  REQUIRE(submit[category_at] == static_cast<std::uint8_t>(Category::kInsurance));
  submit[category_at] = kCategoryCount;
  CHECK(decode_error<ClientRequestFrame>(submit) == DecodeError::kUnknownType);

  Bytes reply = encode(ClientReplyFrame{5, ClientReply{}});
  Bytes bad_status = reply;
  bad_status[2] = 4;
  CHECK(decode_error<ClientReplyFrame>(bad_status) == DecodeError::kUnknownType);
  Bytes bad_bool = reply;
  bad_bool[4] = 2;  // [version][id][status][detail len 0][has hash]
  CHECK(decode_error<ClientReplyFrame>(bad_bool) == DecodeError::kNonCanonical);
  Bytes trailing = reply;
  trailing.push_back(0);
  CHECK(decode_error<ClientReplyFrame>(trailing) == DecodeError::kTrailingBytes);

  // A detail one byte too long, written by hand.
  Writer w;
  w.u8(kCodecVersion);
  w.varint(1);
  w.u8(0);
  w.str(std::string(kMaxDetailBytes + 1, 'd'));
  w.boolean(false);
  w.varint(0);
  CHECK(decode_error<ClientReplyFrame>(w.data()) == DecodeError::kOversize);

  // More records than allowed, and more than the input can hold.
  Writer many;
  many.u8(kCodecVersion);
  many.varint(1);
  many.u8(0);
  many.str("");
  many.boolean(false);
  many.varint(kMaxReplyRecords + 1);
  CHECK(decode_error<ClientReplyFrame>(many.data()) == DecodeError::kOversize);
  Writer few;
  few.u8(kCodecVersion);
  few.varint(1);
  few.u8(0);
  few.str("");
  few.boolean(false);
  few.varint(1000);
  CHECK(decode_error<ClientReplyFrame>(few.data()) == DecodeError::kTruncated);

  // A content type above its limit.
  Writer ct;
  ct.u8(kCodecVersion);
  ct.varint(1);
  ct.u8(1);
  ct.fixed(user(1));
  ct.str(std::string(kMaxContentTypeBytes + 1, 'c'));
  CHECK(decode_error<ClientRequestFrame>(ct.data()) == DecodeError::kOversize);
}

TEST_CASE("client codec: random and mutated input gives an error or a canonical value") {
  const std::uint64_t seed = test_seed(20261122);
  INFO("seed = " << seed << " (replay with MHR_TEST_SEED)");
  std::mt19937_64 rng(seed);
  SubmitRecordRequest off = sample_submit();
  off.off_chain = OffChainRef{sha256(as_bytes("blob")), 1234};
  off.supersedes = sha256(as_bytes("old"));
  const std::vector<Bytes> seeds = {
      encode(ClientRequestFrame{1, RegisterUserRequest{user(1), {}}}),
      encode(ClientRequestFrame{300, sample_submit()}),
      encode(ClientRequestFrame{2, off}),
      encode(ClientRequestFrame{3, ReadUserRequest{user(3), {}}}),
      encode(ClientReplyFrame{4, ClientReply{ReplyStatus::kOk,
                                             "ok",
                                             sha256(as_bytes("h")),
                                             {sample_record(0, "{}"), sample_record(1, "[]")},
                                             {},
                                             {},
                                             {},
                                             {},
                                             {}}}),
      encode(ClientReplyFrame{
          5, ClientReply{ReplyStatus::kRejected, "no", {}, {}, {}, {}, {}, {}, {}}}),
  };
  std::size_t ok = 0;
  for (int i = 0; i < 20'000; ++i) {
    Bytes in;
    if (i % 5 == 0) {
      in.resize(rng() % 120);
      for (auto& b : in) b = static_cast<std::uint8_t>(rng());
      if (!in.empty() && (rng() & 1)) in[0] = kCodecVersion;
    } else {
      in = mutate(seeds[rng() % seeds.size()], rng);
      if (rng() % 3 == 0) in = mutate(std::move(in), rng);
    }
    REQUIRE(decodes_safely<ClientRequestFrame>(in));
    REQUIRE(decodes_safely<ClientReplyFrame>(in));
    ok += decode<ClientRequestFrame>(in).ok() + decode<ClientReplyFrame>(in).ok();
  }
  CHECK(ok > 0);
}
