#include "common/messages.hpp"

#include <algorithm>
#include <array>
#include <utility>

// The wire unit is a Message: one tag byte (its variant index), then the body
// of that message. Codecs of the single messages are specialised here only.

namespace mhr {

namespace {

void write_chain_tip(Writer& w, const ChainTip& v) {
  w.varint(v.sequence);
  w.fixed(v.hash);
}

ChainTip read_chain_tip(Reader& r) {
  ChainTip v;
  v.sequence = r.varint();
  v.hash = r.fixed_as<Hash>();
  return v;
}

void write_known_chain(Writer& w, const KnownChain& v) {
  w.varint(v.network.value);
  w.varint(v.next_sequence);
}

KnownChain read_known_chain(Reader& r) {
  KnownChain v;
  v.network = NetworkId{r.u32()};
  v.next_sequence = r.varint();
  return v;
}

void write_route(Writer& w, const std::vector<NodeId>& route) {
  MHR_ASSERT(route.size() <= kMaxRouteHops);
  w.varint(route.size());
  for (NodeId n : route) w.varint(n.value);
}

std::vector<NodeId> read_route(Reader& r) {
  std::vector<NodeId> route;
  std::size_t n = r.count(kMaxRouteHops, 1);
  route.reserve(n);
  for (std::size_t i = 0; i < n && r.ok(); ++i) route.push_back(NodeId{r.u32()});
  return route;
}

// HistoryItem without the check of header_index, which needs its batch.
void write_history_item(Writer& w, const HistoryItem& v) {
  Codec<Record>::write(w, v.record);
  w.varint(v.header_index);
  Codec<MerkleProof>::write(w, v.proof);
}

HistoryItem read_history_item(Reader& r) {
  HistoryItem v;
  v.record = Codec<Record>::read(r);
  v.header_index = r.u32();
  v.proof = Codec<MerkleProof>::read(r);
  return v;
}

// Bytes that `write` writes, counted without allocating.
template <class F>
std::size_t counted_size(F write) {
  Writer w = Writer::counting();
  write(w);
  return w.size();
}

// The smallest encodings of vector items: what Reader::count needs to reject
// counts the input cannot hold. Default values encode minimally (zero
// varints, empty strings and vectors, an empty inline payload, no optionals),
// so the bounds follow from the codecs themselves.
std::size_t min_proven_entry_size() {
  static const std::size_t size = std::min(counted_size([](Writer& w) {
                                             Codec<ProvenEntry>::write(w, {Record{}, {}});
                                           }),
                                           counted_size([](Writer& w) {
                                             Codec<ProvenEntry>::write(w, {Registration{}, {}});
                                           }));
  return size;
}
std::size_t min_signed_header_size() {
  static const std::size_t size =
      counted_size([](Writer& w) { Codec<SignedHeader>::write(w, {}); });
  return size;
}
std::size_t min_known_chain_size() {
  static const std::size_t size = counted_size([](Writer& w) { write_known_chain(w, {}); });
  return size;
}
std::size_t min_view_change_size() {
  static const std::size_t size = counted_size([](Writer& w) {
    w.varint(0);  // view
    w.varint(0);  // sender
    w.boolean(false);
    w.boolean(false);
    w.fixed(Signature{});
    w.bytes({});
  });
  return size;
}
std::size_t min_history_item_size() {
  static const std::size_t size = counted_size([](Writer& w) { write_history_item(w, {}); });
  return size;
}

}  // namespace

template <>
struct Codec<StoreRequest> {
  static void write(Writer& w, const StoreRequest& v) { Codec<Record>::write(w, v.record); }
  static StoreRequest read(Reader& r) { return StoreRequest{Codec<Record>::read(r)}; }
};

template <>
struct Codec<PresenceQuery> {
  static void write(Writer& w, const PresenceQuery& v) {
    w.fixed(v.user);
    w.fixed(v.record_hash);
  }
  static PresenceQuery read(Reader& r) {
    PresenceQuery v;
    v.user = r.fixed_as<UserId>();
    v.record_hash = r.fixed_as<Hash>();
    return v;
  }
};

template <>
struct Codec<PresenceFlag> {
  static void write(Writer& w, const PresenceFlag& v) {
    w.fixed(v.user);
    w.fixed(v.record_hash);
    w.boolean(v.present);
  }
  static PresenceFlag read(Reader& r) {
    PresenceFlag v;
    v.user = r.fixed_as<UserId>();
    v.record_hash = r.fixed_as<Hash>();
    v.present = r.boolean();
    return v;
  }
};

template <>
struct Codec<TxRequest> {
  static void write(Writer& w, const TxRequest& v) {
    MHR_ASSERT(!v.tx.valueless_by_exception());
    w.u8(static_cast<std::uint8_t>(v.tx.index()));
    if (const auto* reg = std::get_if<Registration>(&v.tx)) {
      Codec<Registration>::write(w, *reg);
    } else {
      Codec<AuditAnchor>::write(w, std::get<AuditAnchor>(v.tx));
    }
  }
  static TxRequest read(Reader& r) {
    const std::uint8_t tag = r.u8();
    if (tag == 1) return TxRequest{Codec<AuditAnchor>::read(r)};
    if (tag != 0) r.fail(DecodeError::kUnknownType);
    return TxRequest{Codec<Registration>::read(r)};
  }
};

template <>
struct Codec<Committed> {
  static void write(Writer& w, const Committed& v) {
    MHR_ASSERT(v.entry_hashes.size() <= kMaxCommittedHashes);
    w.varint(v.entry_hashes.size());
    for (const Hash& h : v.entry_hashes) w.fixed(h);
  }
  static Committed read(Reader& r) {
    Committed v;
    std::size_t n = r.count(kMaxCommittedHashes, Hash::kSize);
    v.entry_hashes.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i) v.entry_hashes.push_back(r.fixed_as<Hash>());
    return v;
  }
};

template <>
struct Codec<Rejected> {
  static void write(Writer& w, const Rejected& v) {
    w.fixed(v.entry_hash);
    MHR_ASSERT(static_cast<std::uint8_t>(v.reason) < kRejectReasonCount);
    w.u8(static_cast<std::uint8_t>(v.reason));
    w.boolean(v.tip.has_value());
    if (v.tip) write_chain_tip(w, *v.tip);
  }
  static Rejected read(Reader& r) {
    Rejected v;
    v.entry_hash = r.fixed_as<Hash>();
    std::uint8_t reason = r.u8();
    if (reason >= kRejectReasonCount) {
      r.fail(DecodeError::kUnknownType);
      return v;
    }
    v.reason = static_cast<RejectReason>(reason);
    if (r.boolean()) v.tip = read_chain_tip(r);
    return v;
  }
};

template <>
struct Codec<BlockDelivery> {
  static void write(Writer& w, const BlockDelivery& v) {
    Codec<SignedHeader>::write(w, v.header);
    MHR_ASSERT(v.entries.size() <= kMaxBlockEntries);
    w.varint(v.entries.size());
    for (const ProvenEntry& e : v.entries) Codec<ProvenEntry>::write(w, e);
    w.u8(v.to ? 1 : 0);
    if (v.to) w.varint(v.to->value);
  }
  static BlockDelivery read(Reader& r) {
    BlockDelivery v;
    v.header = Codec<SignedHeader>::read(r);
    std::size_t n = r.count(kMaxBlockEntries, min_proven_entry_size());
    v.entries.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i) v.entries.push_back(Codec<ProvenEntry>::read(r));
    if (r.boolean()) v.to = NodeId{r.u32()};
    return v;
  }
};

template <>
struct Codec<DeliveryAck> {
  static void write(Writer& w, const DeliveryAck& v) {
    w.varint(v.network.value);
    w.varint(v.height);
    w.fixed(v.header_hash);
  }
  static DeliveryAck read(Reader& r) {
    DeliveryAck v;
    v.network = NetworkId{r.u32()};
    v.height = r.varint();
    v.header_hash = r.fixed_as<Hash>();
    return v;
  }
};

template <>
struct Codec<CatchUpRequest> {
  static void write(Writer& w, const CatchUpRequest& v) {
    w.varint(v.network.value);
    w.varint(v.from_height);
  }
  static CatchUpRequest read(Reader& r) {
    CatchUpRequest v;
    v.network = NetworkId{r.u32()};
    v.from_height = r.varint();
    return v;
  }
};

template <>
struct Codec<CommittedTip> {
  static void write(Writer& w, const CommittedTip& v) {
    w.varint(v.network.value);
    w.varint(v.height);
  }
  static CommittedTip read(Reader& r) {
    CommittedTip v;
    v.network = NetworkId{r.u32()};
    v.height = r.varint();
    return v;
  }
};

template <>
struct Codec<MembershipUpdate> {
  static void write(Writer& w, const MembershipUpdate& v) {
    w.varint(v.network.value);
    MHR_ASSERT(v.users.size() <= kMaxMembershipUsers);
    w.varint(v.users.size());
    for (const UserId& u : v.users) w.fixed(u);
  }
  static MembershipUpdate read(Reader& r) {
    MembershipUpdate v;
    v.network = NetworkId{r.u32()};
    std::size_t n = r.count(kMaxMembershipUsers, UserId::kSize);
    v.users.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i) v.users.push_back(r.fixed_as<UserId>());
    return v;
  }
};

template <>
struct Codec<RemotePresence> {
  static void write(Writer& w, const RemotePresence& v) {
    w.fixed(v.user);
    w.boolean(v.present);
  }
  static RemotePresence read(Reader& r) {
    RemotePresence v;
    v.user = r.fixed_as<UserId>();
    v.present = r.boolean();
    return v;
  }
};

template <>
struct Codec<HistoryRequest> {
  static void write(Writer& w, const HistoryRequest& v) {
    w.varint(v.request_id);
    w.fixed(v.user);
    MHR_ASSERT(v.known.size() <= kMaxKnownChains);
    w.varint(v.known.size());
    for (const KnownChain& k : v.known) write_known_chain(w, k);
    write_route(w, v.route);
    w.boolean(v.remote);
  }
  static HistoryRequest read(Reader& r) {
    HistoryRequest v;
    v.request_id = r.varint();
    v.user = r.fixed_as<UserId>();
    std::size_t n = r.count(kMaxKnownChains, min_known_chain_size());
    v.known.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i) v.known.push_back(read_known_chain(r));
    v.route = read_route(r);
    v.remote = r.boolean();
    return v;
  }
};

template <>
struct Codec<HistoryBatch> {
  static void write(Writer& w, const HistoryBatch& v) {
    w.varint(v.request_id);
    w.fixed(v.user);
    MHR_ASSERT(v.headers.size() <= kMaxHistoryHeaders);
    w.varint(v.headers.size());
    for (const SignedHeader& h : v.headers) Codec<SignedHeader>::write(w, h);
    MHR_ASSERT(v.items.size() <= kMaxHistoryRecords);
    w.varint(v.items.size());
    for (const HistoryItem& item : v.items) {
      MHR_ASSERT(item.header_index < v.headers.size());
      write_history_item(w, item);
    }
    w.boolean(v.last);
    write_route(w, v.route);
  }
  static HistoryBatch read(Reader& r) {
    HistoryBatch v;
    v.request_id = r.varint();
    v.user = r.fixed_as<UserId>();
    std::size_t n = r.count(kMaxHistoryHeaders, min_signed_header_size());
    v.headers.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i) v.headers.push_back(Codec<SignedHeader>::read(r));
    n = r.count(kMaxHistoryRecords, min_history_item_size());
    v.items.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i) {
      v.items.push_back(read_history_item(r));
      if (r.ok() && v.items.back().header_index >= v.headers.size())
        r.fail(DecodeError::kInvalidValue);
    }
    v.last = r.boolean();
    v.route = read_route(r);
    return v;
  }
};

template <>
struct Codec<Ack> {
  static void write(Writer& w, const Ack& v) { w.fixed(v.message_hash); }
  static Ack read(Reader& r) { return Ack{r.fixed_as<Hash>()}; }
};

template <>
struct Codec<BlobRequest> {
  static void write(Writer& w, const BlobRequest& v) {
    w.varint(v.request_id);
    w.fixed(v.user);
    w.fixed(v.blob);
    w.varint(v.part);
    write_route(w, v.route);
    w.boolean(v.remote);
  }
  static BlobRequest read(Reader& r) {
    BlobRequest v;
    v.request_id = r.varint();
    v.user = r.fixed_as<UserId>();
    v.blob = r.fixed_as<Hash>();
    v.part = r.u32();
    v.route = read_route(r);
    v.remote = r.boolean();
    return v;
  }
};

template <>
struct Codec<BlobPart> {
  static void write(Writer& w, const BlobPart& v) {
    w.varint(v.request_id);
    w.fixed(v.blob);
    w.varint(v.part);
    w.boolean(v.found);
    MHR_ASSERT(v.bytes.size() <= kBlobChunkBytes && (v.found || v.bytes.empty()));
    w.bytes(v.bytes.view());
    write_route(w, v.route);
  }
  static BlobPart read(Reader& r) {
    BlobPart v;
    v.request_id = r.varint();
    v.blob = r.fixed_as<Hash>();
    v.part = r.u32();
    v.found = r.boolean();
    v.bytes = r.shared_bytes(kBlobChunkBytes);
    if (r.ok() && !v.found && !v.bytes.empty()) r.fail(DecodeError::kInvalidValue);
    v.route = read_route(r);
    return v;
  }
};

template <>
struct Codec<Proposal> {
  static void write(Writer& w, const Proposal& v) {
    w.varint(v.view);
    Codec<BlockHeader>::write(w, v.header);
    w.bytes(v.body.view());
    w.fixed(v.prepare);
    w.varint(v.delivered_below);
  }
  static Proposal read(Reader& r) {
    Proposal v;
    v.view = r.varint();
    v.header = Codec<BlockHeader>::read(r);
    v.body = r.shared_bytes(kMaxMessageBytes);
    v.prepare = r.fixed_as<Signature>();
    v.delivered_below = r.varint();
    return v;
  }
};

template <>
struct Codec<Vote> {
  static void write(Writer& w, const Vote& v) {
    w.u8(static_cast<std::uint8_t>(v.phase));
    w.varint(v.view);
    w.varint(v.height);
    w.fixed(v.header_hash);
    w.fixed(v.signature);
  }
  static Vote read(Reader& r) {
    Vote v;
    const std::uint8_t phase = r.u8();
    if (phase > static_cast<std::uint8_t>(VotePhase::kSuspect)) r.fail(DecodeError::kUnknownType);
    v.phase = static_cast<VotePhase>(phase);
    v.view = r.varint();
    v.height = r.varint();
    v.header_hash = r.fixed_as<Hash>();
    v.signature = r.fixed_as<Signature>();
    return v;
  }
};

namespace {

void write_signatures(Writer& w, const std::vector<HeaderSignature>& sigs) {
  MHR_ASSERT(sigs.size() <= kMaxGroupReplicas);
  w.varint(sigs.size());
  for (const HeaderSignature& s : sigs) {
    w.varint(s.signer.value);
    w.fixed(s.signature);
  }
}

// Strictly increasing signers, as in a SignedHeader.
std::vector<HeaderSignature> read_signatures(Reader& r) {
  std::vector<HeaderSignature> sigs;
  const std::size_t n = r.count(kMaxGroupReplicas, 1 + Signature::kSize);
  sigs.reserve(n);
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    HeaderSignature s{NodeId{r.u32()}, r.fixed_as<Signature>()};
    if (!sigs.empty() && !(sigs.back().signer < s.signer)) r.fail(DecodeError::kNonCanonical);
    sigs.push_back(s);
  }
  return sigs;
}

}  // namespace

void Codec<PreparedCert>::write(Writer& w, const PreparedCert& v) {
  w.varint(v.view);
  Codec<BlockHeader>::write(w, v.header);
  write_signatures(w, v.prepares);
}

PreparedCert Codec<PreparedCert>::read(Reader& r) {
  PreparedCert v;
  v.view = r.varint();
  v.header = Codec<BlockHeader>::read(r);
  v.prepares = read_signatures(r);
  return v;
}

namespace {

// What a view change's signature covers.
void write_view_change_content(Writer& w, const ViewChange& v) {
  w.varint(v.view);
  w.varint(v.sender.value);
  w.boolean(v.committed.has_value());
  if (v.committed) Codec<SignedHeader>::write(w, *v.committed);
  w.boolean(v.prepared.has_value());
  if (v.prepared) Codec<PreparedCert>::write(w, *v.prepared);
}

}  // namespace

Bytes view_change_signing_bytes(const ViewChange& v) {
  Writer w;
  w.str("mhr-view-change-v1");
  write_view_change_content(w, v);
  return w.take();
}

template <>
struct Codec<ViewChange> {
  static void write(Writer& w, const ViewChange& v) {
    write_view_change_content(w, v);
    w.fixed(v.signature);
    w.bytes(v.body.view());
  }
  static ViewChange read(Reader& r) {
    ViewChange v;
    v.view = r.varint();
    v.sender = NodeId{r.u32()};
    if (r.boolean()) v.committed = Codec<SignedHeader>::read(r);
    if (r.boolean()) v.prepared = Codec<PreparedCert>::read(r);
    v.signature = r.fixed_as<Signature>();
    v.body = r.shared_bytes(kMaxMessageBytes);
    return v;
  }
};

template <>
struct Codec<NewView> {
  static void write(Writer& w, const NewView& v) {
    w.varint(v.view);
    MHR_ASSERT(v.view_changes.size() <= kMaxGroupReplicas);
    w.varint(v.view_changes.size());
    for (const ViewChange& vc : v.view_changes) Codec<ViewChange>::write(w, vc);
  }
  static NewView read(Reader& r) {
    NewView v;
    v.view = r.varint();
    const std::size_t n = r.count(kMaxGroupReplicas, min_view_change_size());
    v.view_changes.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i)
      v.view_changes.push_back(Codec<ViewChange>::read(r));
    return v;
  }
};

template <>
struct Codec<BlockFetch> {
  static void write(Writer& w, const BlockFetch& v) {
    w.varint(v.from_height);
    w.varint(v.view);
  }
  static BlockFetch read(Reader& r) {
    BlockFetch v;
    v.from_height = r.varint();
    v.view = r.varint();
    return v;
  }
};

template <>
struct Codec<CommittedBlock> {
  static void write(Writer& w, const CommittedBlock& v) {
    Codec<SignedHeader>::write(w, v.header);
    w.bytes(v.body.view());
  }
  static CommittedBlock read(Reader& r) {
    CommittedBlock v;
    v.header = Codec<SignedHeader>::read(r);
    v.body = r.shared_bytes(kMaxMessageBytes);
    return v;
  }
};

template <>
struct Codec<Forwarded> {
  static void write(Writer& w, const Forwarded& v) {
    w.varint(v.origin.value);
    w.bytes(v.message.view());
  }
  static Forwarded read(Reader& r) {
    Forwarded v;
    v.origin = NodeId{r.u32()};
    v.message = r.shared_bytes(kMaxMessageBytes);
    return v;
  }
};

template <>
struct Codec<IndexSubmit> {
  static void write(Writer& w, const IndexSubmit& v) {
    MHR_ASSERT(v.txs.size() <= kMaxIndexBlockTxs);
    w.varint(v.txs.size());
    for (const IndexTx& tx : v.txs) Codec<IndexTx>::write(w, tx);
  }
  static IndexSubmit read(Reader& r) {
    IndexSubmit v;
    const std::size_t n = r.count(kMaxIndexBlockTxs, 3);
    v.txs.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i) v.txs.push_back(Codec<IndexTx>::read(r));
    return v;
  }
};

namespace {

constexpr std::array<std::string_view, kMessageTypeCount> kMessageTypeNames = {
    "store_request",    "presence_query",
    "presence_flag",    "tx_request",
    "committed",        "rejected",
    "block_delivery",   "delivery_ack",
    "catch_up_request", "membership_update",
    "remote_presence",  "history_request",
    "history_batch",    "ack",
    "blob_request",     "blob_part",
    "proposal",         "vote",
    "view_change",      "new_view",
    "block_fetch",      "committed_block",
    "forwarded",        "index_submit",
    "committed_tip",
};

constexpr std::array<std::string_view, kRejectReasonCount> kRejectReasonNames = {
    "stale_chain_tip", "bad_signature", "not_registered", "invalid"};

using MessageReader = Message (*)(Reader&);

template <std::size_t... I>
constexpr std::array<MessageReader, sizeof...(I)> make_message_readers(std::index_sequence<I...>) {
  return {+[](Reader& r) -> Message {
    return Message(std::in_place_index<I>, Codec<std::variant_alternative_t<I, Message>>::read(r));
  }...};
}

constexpr auto kMessageReaders =
    make_message_readers(std::make_index_sequence<kMessageTypeCount>{});

}  // namespace

HistoryBatch empty_answer(const HistoryRequest& req) {
  return HistoryBatch{req.request_id, req.user, {}, {}, true, req.route};
}

BlobPart empty_answer(const BlobRequest& req) {
  return BlobPart{req.request_id, req.blob, req.part, false, {}, req.route};
}

std::string_view message_type_name(std::size_t type_index) {
  return type_index < kMessageTypeNames.size() ? kMessageTypeNames[type_index] : "unknown";
}

std::string_view reject_reason_name(RejectReason r) {
  auto i = static_cast<std::size_t>(r);
  return i < kRejectReasonNames.size() ? kRejectReasonNames[i] : "unknown";
}

static_assert(kMessageTypeCount <= 256, "the message tag is one byte");

void Codec<Message>::write(Writer& w, const Message& v) {
  MHR_ASSERT(!v.valueless_by_exception());
  w.u8(static_cast<std::uint8_t>(v.index()));
  std::visit([&w](const auto& m) { Codec<std::decay_t<decltype(m)>>::write(w, m); }, v);
  // The limit covers everything the writer holds, the version byte included.
  MHR_ASSERT(w.size() <= kMaxMessageBytes);
}

Message Codec<Message>::read(Reader& r) {
  if (r.position() + r.remaining() > kMaxMessageBytes) {
    r.fail(DecodeError::kOversize);
    return {};
  }
  std::uint8_t tag = r.u8();
  if (!r.ok()) return {};
  if (tag >= kMessageReaders.size()) {
    r.fail(DecodeError::kUnknownType);
    return {};
  }
  return kMessageReaders[tag](r);
}

std::size_t encoded_size(const Message& m) {
  Writer w = Writer::counting();
  w.u8(kCodecVersion);
  Codec<Message>::write(w, m);
  return w.size();
}

Hash message_hash(const Message& m) {
  return sha256(encode(m));
}

}  // namespace mhr
