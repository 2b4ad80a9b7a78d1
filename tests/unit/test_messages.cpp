// Messages (round trips, exact sizes, limits), entries and signers.
#include <doctest/doctest.h>

#include <set>
#include <type_traits>

#include "common/entry.hpp"
#include "common/messages.hpp"
#include "common/signer.hpp"
#include "sample_data.hpp"

using namespace mhr;

namespace {

SecretSeed seed_from_byte(std::uint8_t b) {
  SecretSeed s;
  s.bytes.fill(b);
  return s;
}

Registration sample_registration(const Signer& node_key, UserId user) {
  Registration reg;
  reg.user = user;
  reg.network = NetworkId{3};
  reg.node = NodeId{7};
  reg.node_key = node_key.public_key();
  reg.time_us = 1'700'000'123'456'789;
  sign_registration(reg, node_key);
  return reg;
}

// A block of records and registrations, its header signed by two validators.
struct SampleBlock {
  std::vector<Entry> entries;
  SignedHeader header;
  std::vector<ProvenEntry> proven;  // every entry with its proof
};

// Entries 0 and 2 are records of user 0xA1 at alice_seq and alice_seq + 1.
SampleBlock sample_block(std::uint64_t height, Hash prev, std::uint64_t alice_seq = 0,
                         Hash alice_prev = Hash{}) {
  KeyPair author = test::key_from_byte(1);
  KeyPair node = test::key_from_byte(2);
  SampleBlock b;
  UserId alice = test::user_from_byte(0xA1);
  UserId bob = test::user_from_byte(0xB0);
  Record a0 = test::sample_record(author, alice, alice_seq, alice_prev);
  b.entries.push_back(a0);
  b.entries.push_back(sample_registration(node, bob));
  b.entries.push_back(
      test::sample_record(author, alice, alice_seq + 1, record_hash(a0), "{\"n\":1}"));
  b.entries.push_back(test::sample_record(author, bob, 0, Hash{}, "{\"resourceType\":\"Claim\"}"));
  Record off = test::sample_record(author, test::user_from_byte(0xC0), 0, Hash{});
  off.payload = {};
  off.off_chain = OffChainRef{sha256(as_bytes("mri-scan")), 48'000'000};
  off.supersedes = record_hash(a0);
  off.category = Category::kInsurance;
  sign_record(off, author);
  b.entries.push_back(off);

  std::vector<Hash> leaves;
  for (const Entry& e : b.entries) leaves.push_back(entry_hash(e));
  MerkleTree tree(leaves);
  b.header.header = test::sample_header(height, prev);
  b.header.header.merkle_root = tree.root();
  b.header.header.entry_count = static_cast<std::uint32_t>(leaves.size());
  add_signature(b.header, NodeId{11}, test::key_from_byte(11));
  add_signature(b.header, NodeId{12}, test::key_from_byte(12));
  for (std::size_t i = 0; i < b.entries.size(); ++i)
    b.proven.push_back(ProvenEntry{b.entries[i], tree.prove(i)});
  return b;
}

// decode(encode(m)) == m, the re-encoding is byte-identical and
// encoded_size is exact.
void check_round_trip(const Message& m) {
  INFO("message " << message_type_name(m));
  Bytes b = encode(m);
  REQUIRE(b.size() >= 2);
  CHECK(b[0] == kCodecVersion);
  CHECK(b[1] == m.index());
  CHECK(encoded_size(m) == b.size());
  auto back = decode<Message>(b);
  REQUIRE(back.ok());
  CHECK(back.value().index() == m.index());
  CHECK(back.value() == m);
  CHECK(encode(back.value()) == b);
  // Every proper prefix is a typed error, never a value.
  for (std::size_t n = 0; n < b.size(); ++n)
    CHECK_FALSE(decode<Message>(ByteView(b).first(n)).ok());
}

HistoryBatch sample_history_batch() {
  SampleBlock b0 = sample_block(0, Hash{});
  SampleBlock b1 = sample_block(1, header_hash(b0.header.header), 2,
                                record_hash(std::get<Record>(b0.entries[2])));
  HistoryBatch batch;
  batch.request_id = 0x1234'5678'9ABCull;
  batch.user = test::user_from_byte(0xA1);
  batch.headers = {b0.header, b1.header};
  batch.items.push_back({std::get<Record>(b0.entries[0]), 0, b0.proven[0].proof});
  batch.items.push_back({std::get<Record>(b0.entries[2]), 0, b0.proven[2].proof});
  batch.items.push_back({std::get<Record>(b1.entries[0]), 1, b1.proven[0].proof});
  batch.last = false;
  batch.route = {NodeId{40}, NodeId{300}, NodeId{70'000}};
  return batch;
}

HistoryRequest sample_history_request() {
  HistoryRequest req;
  req.request_id = 77;
  req.user = test::user_from_byte(0xA1);
  req.known = {{NetworkId{3}, 2}, {NetworkId{4}, 0}, {NetworkId{1'000'000}, 123'456}};
  req.route = {NodeId{5}, NodeId{40}, NodeId{UINT32_MAX}};
  return req;
}

// The expected decode error of `b`.
std::optional<DecodeError> error_of(ByteView b) {
  auto d = decode<Message>(b);
  if (d.ok()) return std::nullopt;
  return d.error();
}

void start_message(Writer& w, std::size_t index) {
  w.u8(kCodecVersion);
  w.u8(static_cast<std::uint8_t>(index));
}

template <class T, std::size_t I = 0>
constexpr std::size_t index_of() {
  if constexpr (std::is_same_v<std::variant_alternative_t<I, Message>, T>)
    return I;
  else
    return index_of<T, I + 1>();
}

}  // namespace

// ---- Round trips ------------------------------------------------------------

TEST_CASE("messages: StoreRequest round-trips") {
  KeyPair author = test::key_from_byte(1);
  check_round_trip(StoreRequest{test::sample_record(author, test::user_from_byte(2), 0, Hash{})});
  SampleBlock b = sample_block(0, Hash{});
  check_round_trip(StoreRequest{std::get<Record>(b.entries[4])});  // off-chain, superseding
}

TEST_CASE("messages: PresenceQuery and PresenceFlag round-trip") {
  Hash h = sha256(as_bytes("record"));
  check_round_trip(PresenceQuery{test::user_from_byte(3), h});
  check_round_trip(PresenceFlag{test::user_from_byte(3), h, true});
  check_round_trip(PresenceFlag{test::user_from_byte(4), h, false});
}

TEST_CASE("messages: TxRequest round-trips") {
  KeyPair node = test::key_from_byte(2);
  check_round_trip(TxRequest{Transaction{sample_registration(node, test::user_from_byte(9))}});
  check_round_trip(TxRequest{
      Transaction{AuditAnchor{NodeId{3}, NetworkId{1}, 42, Hash{}, 5, node.public_key(), {}}}});
}

TEST_CASE("messages: Committed round-trips") {
  SampleBlock b = sample_block(3, sha256(as_bytes("prev")));
  Committed c;
  for (const Entry& e : b.entries) c.entry_hashes.push_back(entry_hash(e));
  check_round_trip(c);
  check_round_trip(Committed{});
}

TEST_CASE("messages: Rejected round-trips with and without a tip") {
  Hash h = sha256(as_bytes("entry"));
  check_round_trip(Rejected{h, RejectReason::kStaleChainTip, ChainTip{41, sha256(as_bytes("t"))}});
  check_round_trip(Rejected{h, RejectReason::kBadSignature, std::nullopt});
  check_round_trip(Rejected{h, RejectReason::kNotRegistered, std::nullopt});
  check_round_trip(Rejected{h, RejectReason::kInvalid, std::nullopt});
}

TEST_CASE("messages: BlockDelivery round-trips with records and registrations") {
  SampleBlock b = sample_block(9, sha256(as_bytes("prev")));
  check_round_trip(BlockDelivery{b.header, b.proven, NodeId{7}});
  check_round_trip(BlockDelivery{b.header, {b.proven[1], b.proven[3]}, NodeId{0}});
  check_round_trip(
      BlockDelivery{b.header, {}, std::nullopt});  // for a node holding none of its users
}

TEST_CASE("messages: CommittedTip round-trips") {
  check_round_trip(CommittedTip{NetworkId{3}, 52});
  check_round_trip(CommittedTip{kIndexNetwork, 1ull << 40});
}

TEST_CASE("messages: DeliveryAck and CatchUpRequest round-trip") {
  SampleBlock b = sample_block(9, sha256(as_bytes("prev")));
  check_round_trip(DeliveryAck{NetworkId{3}, 9, header_hash(b.header.header)});
  check_round_trip(DeliveryAck{kIndexNetwork, 1ull << 40, header_hash(b.header.header)});
  check_round_trip(CatchUpRequest{NetworkId{3}, 1'000'000});
  check_round_trip(CatchUpRequest{kIndexNetwork, 0});
}

TEST_CASE("messages: MembershipUpdate and RemotePresence round-trip") {
  check_round_trip(
      MembershipUpdate{NetworkId{12}, {test::user_from_byte(5), test::user_from_byte(6)}});
  check_round_trip(MembershipUpdate{NetworkId{12}, {}});
  check_round_trip(RemotePresence{test::user_from_byte(6), true});
  check_round_trip(RemotePresence{test::user_from_byte(6), false});
}

TEST_CASE("messages: HistoryRequest round-trips") {
  check_round_trip(sample_history_request());
  HistoryRequest full = sample_history_request();
  full.route.assign(kMaxRouteHops, NodeId{8});
  check_round_trip(full);
  check_round_trip(HistoryRequest{});
}

TEST_CASE("messages: BlobRequest and BlobPart round-trip; a part past its limit is refused") {
  const Hash id = sha256(as_bytes("scan"));
  check_round_trip(BlobRequest{7, test::user_from_byte(3), id, kManifestPart, {NodeId{1}}, true});
  check_round_trip(BlobRequest{7, test::user_from_byte(3), id, 12, {}, false});
  check_round_trip(BlobPart{7, id, 0, true, SharedBytes(Bytes(kBlobChunkBytes, 1)), {NodeId{4}}});
  check_round_trip(BlobPart{7, id, 0, false, {}, {NodeId{4}}});
  Bytes b = encode(Message{BlobPart{7, id, 0, true, SharedBytes(Bytes(kBlobChunkBytes, 1)), {}}});
  // Grow the length prefix's payload by one byte: the varint length and the
  // bytes after it no longer fit the limit.
  Writer w;
  w.u8(kCodecVersion);
  w.u8(static_cast<std::uint8_t>(Message(BlobPart{}).index()));
  w.varint(7);
  w.fixed(id);
  w.varint(0);
  w.boolean(true);
  w.bytes(Bytes(kBlobChunkBytes + 1, 1));
  w.varint(0);
  CHECK(decode<Message>(w.data()).error() == DecodeError::kOversize);
  CHECK(decode<Message>(b).ok());
  // "Not found" never carries bytes.
  Writer nf;
  nf.u8(kCodecVersion);
  nf.u8(static_cast<std::uint8_t>(Message(BlobPart{}).index()));
  nf.varint(7);
  nf.fixed(id);
  nf.varint(0);
  nf.boolean(false);
  nf.bytes(Bytes(3, 1));
  nf.varint(0);
  CHECK(decode<Message>(nf.data()).error() == DecodeError::kInvalidValue);
}

TEST_CASE("messages: HistoryBatch round-trips") {
  HistoryBatch batch = sample_history_batch();
  check_round_trip(batch);
  batch.last = true;
  batch.route.clear();
  check_round_trip(batch);
  check_round_trip(HistoryBatch{});
}

TEST_CASE("messages: consensus group messages round-trip") {
  SampleBlock b0 = sample_block(0, Hash{});
  const BlockHeader& h = b0.header.header;
  const SharedBytes body(as_bytes("an encoded block body"));
  const Signature sig = test::key_from_byte(11).sign(as_bytes("x"));
  check_round_trip(Proposal{7, h, body, sig, 3});
  check_round_trip(Proposal{});
  check_round_trip(Vote{VotePhase::kCommit, 1ull << 40, 12, header_hash(h), sig});
  check_round_trip(Vote{});
  PreparedCert cert{6, h, {{NodeId{1}, sig}, {NodeId{4}, sig}, {NodeId{9}, sig}}};
  ViewChange vc{7, NodeId{4}, b0.header, cert, sig, body};
  check_round_trip(vc);
  check_round_trip(ViewChange{});
  ViewChange bare{8, NodeId{5}, std::nullopt, std::nullopt, sig, {}};
  check_round_trip(NewView{7, {vc, bare}});
  check_round_trip(NewView{});
  check_round_trip(BlockFetch{123, 4});
  check_round_trip(CommittedBlock{b0.header, body});
  check_round_trip(Forwarded{NodeId{3}, SharedBytes(encode(Message{StoreRequest{}}))});
  // The view is part of a signed header's encoding (and of what it signs).
  SignedHeader later = b0.header;
  later.view = 5;
  CHECK(encode(Message{CommittedBlock{later, {}}}) !=
        encode(Message{CommittedBlock{b0.header, {}}}));
  CHECK(header_signing_bytes(header_hash(h), 0) != header_signing_bytes(header_hash(h), 5));
}

TEST_CASE("messages: index transactions, bodies and IndexSubmit round-trip") {
  const UserId user = test::user_from_byte(3);
  MembershipProof proof;
  proof.header.header.network = NetworkId{2};
  proof.header.header.height = 4;
  proof.registration.entry = Registration{user, NetworkId{2}, NodeId{9}, {}, 5, {}};
  proof.registration.proof.leaf_count = 2;
  const IndexTx member = Membership{user, NetworkId{2}, NodeId{9}, proof};
  const IndexTx anchor = Anchor{NetworkId{1}, 1ull << 33, sha256(as_bytes("header"))};
  check_round_trip(IndexSubmit{{member, anchor}});
  check_round_trip(IndexSubmit{});
  CHECK(index_tx_network(member) == NetworkId{2});
  CHECK(index_tx_network(anchor) == NetworkId{1});
  // Another record node of the same network is another membership.
  CHECK(index_tx_hash(member) != index_tx_hash(Membership{user, NetworkId{2}, NodeId{10}, proof}));
  // The proof is not the membership's identity: another certificate of the
  // same block proves the same membership.
  MembershipProof other = proof;
  other.header.view = 3;
  CHECK(index_tx_hash(member) == index_tx_hash(Membership{user, NetworkId{2}, NodeId{9}, other}));
  const std::vector<IndexTx> txs{member, anchor};
  const Bytes body = encode_index_body(txs);
  auto back = decode_index_body(body);
  REQUIRE(back.ok());
  CHECK(back.value() == txs);
  BlockHeader h;
  h.entry_count = 2;
  h.merkle_root = index_merkle_root(txs);
  CHECK(index_body_matches(h, txs));
  CHECK_FALSE(index_body_matches(h, {anchor, member}));  // the order is committed
  // An unknown kind and a truncated body are refused.
  Bytes unknown = body;
  unknown[2] = 7;
  CHECK(decode_index_body(unknown).error() == DecodeError::kUnknownType);
  CHECK_FALSE(decode_index_body(ByteView(body).first(body.size() - 1)).ok());
}

TEST_CASE("messages: prepare signatures in a certificate must be in signer order") {
  PreparedCert cert{1, BlockHeader{}, {{NodeId{4}, Signature{}}, {NodeId{1}, Signature{}}}};
  Writer w;
  start_message(w, index_of<ViewChange>());
  w.varint(2);  // view
  w.varint(1);  // sender
  w.boolean(false);
  w.boolean(true);
  Codec<PreparedCert>::write(w, cert);
  w.fixed(Signature{});
  w.bytes({});
  CHECK(error_of(w.data()) == DecodeError::kNonCanonical);
  Vote v{};
  Bytes b = encode(Message{v});
  b[2] = 3;  // past the last phase
  CHECK(error_of(b) == DecodeError::kUnknownType);
}

TEST_CASE("messages: type and reject reason names") {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kMessageTypeCount; ++i) {
    std::string_view n = message_type_name(i);
    CHECK(n != "unknown");
    for (char c : n) CHECK(((c >= 'a' && c <= 'z') || c == '_'));
    names.insert(n);
  }
  CHECK(names.size() == kMessageTypeCount);
  CHECK(message_type_name(kMessageTypeCount) == "unknown");
  CHECK(message_type_name(Message{StoreRequest{}}) == "store_request");
  CHECK(message_type_name(Message{PresenceQuery{}}) == "presence_query");
  CHECK(message_type_name(Message{BlockDelivery{}}) == "block_delivery");
  CHECK(message_type_name(Message{CatchUpRequest{}}) == "catch_up_request");
  CHECK(message_type_name(Message{HistoryBatch{}}) == "history_batch");
  CHECK(message_type_name(Message{CommittedTip{}}) == "committed_tip");
  CHECK(reject_reason_name(RejectReason::kStaleChainTip) == "stale_chain_tip");
  CHECK(reject_reason_name(RejectReason::kBadSignature) == "bad_signature");
  CHECK(reject_reason_name(RejectReason::kNotRegistered) == "not_registered");
  CHECK(reject_reason_name(RejectReason::kInvalid) == "invalid");
}

TEST_CASE("messages: encoded_size counts large shared payloads without copying them") {
  KeyPair author = test::key_from_byte(1);
  Record big = test::sample_record(author, test::user_from_byte(2), 0, Hash{},
                                   std::string(kMaxInlinePayloadBytes, 'x'));
  SampleBlock b = sample_block(1, sha256(as_bytes("prev")));
  BlockDelivery d{b.header, {}, NodeId{1}};
  for (std::uint64_t i = 0; i < 40; ++i)  // 40 MiB on the wire, one payload in memory
    d.entries.push_back({big, MerkleProof{i, 40, {sha256(as_bytes("sibling"))}}});
  Message m = d;
  std::size_t size = encoded_size(m);
  CHECK(size > 40 * kMaxInlinePayloadBytes);
  CHECK(size == encode(m).size());
}

// ---- Limits and typed errors -----------------------------------------------

TEST_CASE("messages: a route longer than kMaxRouteHops is oversize") {
  auto encode_request = [](std::size_t hops) {
    Writer w;
    start_message(w, index_of<HistoryRequest>());
    w.varint(5);  // request_id
    w.fixed(test::user_from_byte(1));
    w.varint(0);  // no known chains
    w.varint(hops);
    for (std::size_t i = 0; i < hops; ++i) w.varint(100 + i);
    w.boolean(false);  // remote
    return w.take();
  };
  auto ok = decode<Message>(encode_request(kMaxRouteHops));
  REQUIRE(ok.ok());
  CHECK(std::get<HistoryRequest>(ok.value()).route.size() == kMaxRouteHops);
  CHECK(error_of(encode_request(kMaxRouteHops + 1)) == DecodeError::kOversize);
}

TEST_CASE("messages: vector counts above their limits are oversize") {
  Writer committed;
  start_message(committed, index_of<Committed>());
  committed.varint(kMaxCommittedHashes + 1);
  CHECK(error_of(committed.data()) == DecodeError::kOversize);

  Writer known;
  start_message(known, index_of<HistoryRequest>());
  known.varint(1);
  known.fixed(test::user_from_byte(1));
  known.varint(kMaxKnownChains + 1);
  CHECK(error_of(known.data()) == DecodeError::kOversize);

  Writer entries;
  start_message(entries, index_of<BlockDelivery>());
  Codec<SignedHeader>::write(entries, sample_block(0, Hash{}).header);
  entries.varint(kMaxBlockEntries + 1);
  CHECK(error_of(entries.data()) == DecodeError::kOversize);

  // Within the limit but more than the input can hold: refused before
  // anything is allocated.
  Writer short_input;
  start_message(short_input, index_of<Committed>());
  short_input.varint(kMaxCommittedHashes);
  short_input.fixed(sha256(as_bytes("only one")));
  CHECK(error_of(short_input.data()) == DecodeError::kTruncated);
}

TEST_CASE("messages: a history item pointing past its batch's headers is invalid") {
  HistoryBatch batch = sample_history_batch();
  auto encode_batch = [&](std::uint32_t bad_index) {
    Writer w;
    start_message(w, index_of<HistoryBatch>());
    w.varint(batch.request_id);
    w.fixed(batch.user);
    w.varint(batch.headers.size());
    for (const auto& h : batch.headers) Codec<SignedHeader>::write(w, h);
    w.varint(batch.items.size());
    for (std::size_t i = 0; i < batch.items.size(); ++i) {
      Codec<Record>::write(w, batch.items[i].record);
      w.varint(i == 1 ? bad_index : batch.items[i].header_index);
      Codec<MerkleProof>::write(w, batch.items[i].proof);
    }
    w.boolean(batch.last);
    w.varint(batch.route.size());
    for (NodeId n : batch.route) w.varint(n.value);
    return w.take();
  };
  REQUIRE(batch.items[1].header_index == 0);
  Bytes good = encode_batch(0);
  CHECK(good == encode(Message{batch}));  // the hand encoding matches the codec
  CHECK_FALSE(error_of(good).has_value());
  CHECK_FALSE(error_of(encode_batch(1)).has_value());  // 2 headers: index 1 is fine
  CHECK(error_of(encode_batch(2)) == DecodeError::kInvalidValue);
  CHECK(error_of(encode_batch(UINT32_MAX)) == DecodeError::kInvalidValue);
}

TEST_CASE("messages: unknown message tags and reject reasons are unknown types") {
  const Bytes past_last = {kCodecVersion, static_cast<std::uint8_t>(kMessageTypeCount)};
  CHECK(error_of(past_last) == DecodeError::kUnknownType);
  const Bytes tag_ff = {kCodecVersion, 0xFF, 0, 0, 0};
  CHECK(error_of(tag_ff) == DecodeError::kUnknownType);
  const Bytes no_tag = {kCodecVersion};
  CHECK(error_of(no_tag) == DecodeError::kTruncated);
  const Bytes wrong_version = {2, 0};
  CHECK(error_of(wrong_version) == DecodeError::kUnknownVersion);

  Message stale =
      Rejected{sha256(as_bytes("e")), RejectReason::kStaleChainTip, ChainTip{1, Hash{}}};
  Bytes b = encode(stale);
  const std::size_t reason_at = 2 + Hash::kSize;
  REQUIRE(b[reason_at] == 0);
  b[reason_at] = kRejectReasonCount;
  CHECK(error_of(b) == DecodeError::kUnknownType);
  b[reason_at] = 0xFF;
  CHECK(error_of(b) == DecodeError::kUnknownType);
  b[reason_at] = 0;
  b[reason_at + 1] = 2;  // the tip flag is a boolean
  CHECK(error_of(b) == DecodeError::kNonCanonical);
  b[reason_at + 1] = 1;
  CHECK_FALSE(error_of(b).has_value());
  b.push_back(0);
  CHECK(error_of(b) == DecodeError::kTrailingBytes);
}

TEST_CASE("messages: input above kMaxMessageBytes is oversize") {
  Bytes b(kMaxMessageBytes + 1, 0);
  b[0] = kCodecVersion;
  b[1] = static_cast<std::uint8_t>(index_of<Committed>());
  CHECK(error_of(b) == DecodeError::kOversize);
  b.resize(kMaxMessageBytes);  // at the limit: decoded, then other errors
  CHECK(error_of(b) == DecodeError::kTrailingBytes);
}

// ---- Entries ----------------------------------------------------------------

TEST_CASE("entry: registrations are signed and verified by the registering node") {
  KeyPair node = test::key_from_byte(2);
  Registration reg = sample_registration(node, test::user_from_byte(9));
  CHECK(verify_registration_signature(reg, ed25519_verifier()));
  CHECK_FALSE(verify_registration_signature(reg, modeled_verifier()));

  Registration changed = reg;
  changed.user = test::user_from_byte(10);
  CHECK_FALSE(verify_registration_signature(changed, ed25519_verifier()));
  changed = reg;
  changed.network = NetworkId{4};
  CHECK_FALSE(verify_registration_signature(changed, ed25519_verifier()));
  changed = reg;
  changed.node = NodeId{8};
  CHECK_FALSE(verify_registration_signature(changed, ed25519_verifier()));
  changed = reg;
  changed.time_us += 1;
  CHECK_FALSE(verify_registration_signature(changed, ed25519_verifier()));
  changed = reg;
  changed.node_key = test::key_from_byte(3).public_key();
  CHECK_FALSE(verify_registration_signature(changed, ed25519_verifier()));
  changed = reg;
  changed.signature.bytes[5] ^= 1;
  CHECK_FALSE(verify_registration_signature(changed, ed25519_verifier()));

  ModeledSigner modeled(seed_from_byte(2));
  Registration mreg = sample_registration(modeled, test::user_from_byte(9));
  CHECK(verify_registration_signature(mreg, modeled_verifier()));
  CHECK_FALSE(verify_registration_signature(mreg, ed25519_verifier()));
  mreg.time_us += 1;
  CHECK_FALSE(verify_registration_signature(mreg, modeled_verifier()));

  // The signing bytes are domain-separated from the encoding.
  Writer w;
  Codec<Registration>::write(w, reg);
  CHECK(registration_signing_bytes(reg) != w.data());
}

TEST_CASE("entry: entries round-trip and hash as their leaves") {
  SampleBlock b = sample_block(0, Hash{});
  const Record& rec = std::get<Record>(b.entries[0]);
  const Registration& reg = std::get<Registration>(b.entries[1]);
  CHECK(entry_hash(b.entries[0]) == record_hash(rec));
  CHECK(entry_hash(b.entries[1]) == sha256(encode(b.entries[1])));
  CHECK(entry_hash(b.entries[1]) != sha256(encode(reg)));  // the tag is hashed too
  AuditAnchor anchor{NodeId{1}, NetworkId{0}, 7, sha256(as_bytes("head")), 9, reg.node_key, {}};
  const Entry anchored{anchor};
  auto back = decode<Entry>(encode(anchored));
  REQUIRE(back.ok());
  CHECK(back.value() == anchored);
  CHECK(entry_hash(anchored) == sha256(encode(anchored)));
  CHECK(entry_hash(anchored) != entry_hash(b.entries[1]));

  for (const ProvenEntry& pe : b.proven) {
    Bytes enc = encode(pe);
    auto back = decode<ProvenEntry>(enc);
    REQUIRE(back.ok());
    CHECK(back.value() == pe);
    CHECK(encode(back.value()) == enc);
  }
  Bytes bad_tag = encode(b.entries[1]);
  bad_tag[1] = 3;
  auto bad = decode<Entry>(bad_tag);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error() == DecodeError::kUnknownType);
}

TEST_CASE("entry: inclusion_error accepts right proofs and names wrong ones") {
  SampleBlock b = sample_block(2, sha256(as_bytes("prev")));
  const BlockHeader& h = b.header.header;
  for (const ProvenEntry& pe : b.proven) CHECK_FALSE(inclusion_error(pe, h).has_value());

  ProvenEntry swapped = b.proven[0];
  swapped.proof = b.proven[1].proof;  // another leaf's proof
  CHECK(inclusion_error(swapped, h).has_value());

  ProvenEntry other_entry = b.proven[2];
  other_entry.entry = b.entries[3];
  CHECK(inclusion_error(other_entry, h).has_value());

  ProvenEntry tampered = b.proven[3];
  tampered.proof.path[0].bytes[0] ^= 1;
  CHECK(inclusion_error(tampered, h).has_value());

  ProvenEntry wrong_count = b.proven[1];
  wrong_count.proof.leaf_count += 1;
  auto why = inclusion_error(wrong_count, h);
  REQUIRE(why.has_value());
  CHECK(why->find("size") != std::string::npos);

  BlockHeader other_root = h;
  other_root.merkle_root = sha256(as_bytes("other"));
  CHECK(inclusion_error(b.proven[0], other_root).has_value());
  BlockHeader other_size = h;
  other_size.entry_count += 1;
  CHECK(inclusion_error(b.proven[0], other_size).has_value());
}

// ---- Signers ----------------------------------------------------------------

TEST_CASE("signer: modeled signatures verify and fail for another key, message or signature") {
  ModeledSigner a(seed_from_byte(1));
  ModeledSigner b(seed_from_byte(2));
  CHECK(a.public_key() != b.public_key());
  CHECK(ModeledSigner(seed_from_byte(1)).public_key() == a.public_key());  // deterministic

  Bytes msg = {1, 2, 3, 4};
  Signature sig = a.sign(msg);
  CHECK(sig == a.sign(msg));
  const Verifier& v = modeled_verifier();
  CHECK(v.verify(a.public_key(), msg, sig));
  CHECK_FALSE(v.verify(b.public_key(), msg, sig));
  Bytes other = {1, 2, 3, 5};
  CHECK_FALSE(v.verify(a.public_key(), other, sig));
  CHECK_FALSE(v.verify(a.public_key(), {}, sig));
  Signature flipped = sig;
  flipped.bytes[0] ^= 0x80;
  CHECK_FALSE(v.verify(a.public_key(), msg, flipped));
  flipped = sig;
  flipped.bytes[63] ^= 1;
  CHECK_FALSE(v.verify(a.public_key(), msg, flipped));
  CHECK(v.verify(b.public_key(), msg, b.sign(msg)));
}

TEST_CASE("signer: make_signer and verifier_for pick the scheme") {
  SecretSeed seed = seed_from_byte(7);
  Bytes msg = {9, 8, 7};

  auto real = make_signer(CryptoMode::kReal, seed);
  CHECK(real->public_key() == KeyPair::from_seed(seed).public_key());
  CHECK(real->sign(msg) == KeyPair::from_seed(seed).sign(msg));
  CHECK(&verifier_for(CryptoMode::kReal) == &ed25519_verifier());
  CHECK(verifier_for(CryptoMode::kReal).verify(real->public_key(), msg, real->sign(msg)));
  CHECK(verify(real->public_key(), msg, real->sign(msg)));

  auto modeled = make_signer(CryptoMode::kModeled, seed);
  CHECK(modeled->public_key() == ModeledSigner(seed).public_key());
  CHECK(modeled->public_key() != real->public_key());
  CHECK(&verifier_for(CryptoMode::kModeled) == &modeled_verifier());
  CHECK(verifier_for(CryptoMode::kModeled).verify(modeled->public_key(), msg, modeled->sign(msg)));

  // Neither scheme's signatures pass the other's verifier.
  CHECK_FALSE(ed25519_verifier().verify(modeled->public_key(), msg, modeled->sign(msg)));
  CHECK_FALSE(modeled_verifier().verify(real->public_key(), msg, real->sign(msg)));

  CHECK(crypto_mode_name(CryptoMode::kReal) == "real");
  CHECK(crypto_mode_name(CryptoMode::kModeled) == "modeled");
}

TEST_CASE("signer: records signed with a modeled signer verify only under the modeled verifier") {
  ModeledSigner author(seed_from_byte(4));
  Record r;
  r.user = test::user_from_byte(1);
  r.network = NetworkId{3};
  r.author_node = NodeId{7};
  r.author_key = author.public_key();
  r.content_type = "Observation";
  r.payload = SharedBytes(as_bytes("{}"));
  sign_record(r, author);
  CHECK(verify_record_signature(r, modeled_verifier()));
  CHECK_FALSE(verify_record_signature(r, ed25519_verifier()));
  r.sequence = 1;
  CHECK_FALSE(verify_record_signature(r, modeled_verifier()));
}
