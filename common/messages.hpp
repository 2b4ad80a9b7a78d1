// Every message nodes exchange, as one variant. The flows (docs/PROTOCOL.md):
// store within a network (StoreRequest, PresenceQuery/Flag, BlockDelivery,
// DeliveryAck, Committed), across networks (BlockDelivery between index and
// consensus nodes, MembershipUpdate, RemotePresence), and migration
// (HistoryRequest / HistoryBatch, source-routed through the hops).
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "common/blob.hpp"
#include "common/entry.hpp"
#include "common/index_tx.hpp"
#include "common/record_pool.hpp"

namespace mhr {

// Limits that bound every message (checked on decode, asserted on encode).
inline constexpr std::size_t kMaxRouteHops = 8;
inline constexpr std::size_t kMaxHistoryRecords = 1'000;
inline constexpr std::size_t kMaxHistoryHeaders = 1'000;
inline constexpr std::size_t kMaxKnownChains = 4'096;
inline constexpr std::size_t kMaxCommittedHashes = kMaxBlockEntries;
inline constexpr std::size_t kMaxMembershipUsers = kMaxBlockEntries;
inline constexpr std::size_t kMaxMessageBytes = 64u << 20;

// origin record node -> consensus node: order this record.
struct StoreRequest {
  Record record;
  bool operator==(const StoreRequest&) const = default;
};

// origin -> every node of its network (broadcast presence), or consensus ->
// nodes for a user it does not know (table presence): do you hold `user`?
struct PresenceQuery {
  UserId user;
  Hash record_hash;
  bool operator==(const PresenceQuery&) const = default;
};

// node -> consensus node: the answer to a PresenceQuery.
struct PresenceFlag {
  UserId user;
  Hash record_hash;
  bool present = false;
  bool operator==(const PresenceFlag&) const = default;
};

// record node -> consensus node: order this transaction.
struct TxRequest {
  Transaction tx;
  bool operator==(const TxRequest&) const = default;
};

// consensus -> origin: these entries are in signed blocks and durable on
// every holder in this network.
struct Committed {
  std::vector<Hash> entry_hashes;
  bool operator==(const Committed&) const = default;
};

enum class RejectReason : std::uint8_t {
  kStaleChainTip = 0,  // another record took this position; retry after tip
  kBadSignature = 1,
  kNotRegistered = 2,  // the author node does not hold the user
  kInvalid = 3,
};
inline constexpr std::uint8_t kRejectReasonCount = 4;
// snake_case names ("stale_chain_tip", ...).
std::string_view reject_reason_name(RejectReason r);

// consensus -> origin: an entry was refused; a stale tip carries the tip.
struct Rejected {
  Hash entry_hash;
  RejectReason reason = RejectReason::kInvalid;
  std::optional<ChainTip> tip;
  bool operator==(const Rejected&) const = default;
};

// A signed header with the entries of its block the receiver must hold
// (none for a node that holds none of its users). Between networks the same
// message carries foreign records under their origin network's header.
struct BlockDelivery {
  SignedHeader header;
  std::vector<ProvenEntry> entries;
  // The member these entries are for (none for a header alone): a holder
  // must not take another member's share for its own and acknowledge it.
  std::optional<NodeId> to;
  bool operator==(const BlockDelivery&) const = default;
};

// receiver -> sender of a BlockDelivery: stored durably (or forwarded on).
struct DeliveryAck {
  NetworkId network;
  std::uint64_t height = 0;
  Hash header_hash;
  bool operator==(const DeliveryAck&) const = default;
};

// node -> consensus node: please resend blocks from this height on.
struct CatchUpRequest {
  NetworkId network;
  std::uint64_t from_height = 0;
  bool operator==(const CatchUpRequest&) const = default;
};

// index -> index nodes: these users are now registered in `network` (the
// sender's own), all those of one of its blocks in one message.
struct MembershipUpdate {
  NetworkId network;
  std::vector<UserId> users;
  bool operator==(const MembershipUpdate&) const = default;
};

// index -> its consensus node (table presence): whether `user` is registered
// in any other network.
struct RemotePresence {
  UserId user;
  bool present = false;
  bool operator==(const RemotePresence&) const = default;
};

// The requester already holds (user, network) records below next_sequence.
struct KnownChain {
  NetworkId network;
  std::uint64_t next_sequence = 0;
  bool operator==(const KnownChain&) const = default;
};

// Asks for a user's history beyond what the requester knows. `route` lists
// the hops so far, requester first; the answer travels it backwards.
struct HistoryRequest {
  std::uint64_t request_id = 0;
  UserId user;
  std::vector<KnownChain> known;
  std::vector<NodeId> route;
  // Ask the other networks even if a node of the requester's network holds
  // the user: a local holder may itself be missing what a remote one has.
  bool remote = false;
  bool operator==(const HistoryRequest&) const = default;
};

struct HistoryItem {
  Record record;
  std::uint32_t header_index = 0;  // into HistoryBatch::headers
  MerkleProof proof;
  bool operator==(const HistoryItem&) const = default;
};

// Part of an answer to a HistoryRequest; `last` ends the answer. `route` is
// what remains of the way back, the next hop last.
struct HistoryBatch {
  std::uint64_t request_id = 0;
  UserId user;
  std::vector<SignedHeader> headers;
  std::vector<HistoryItem> items;
  bool last = true;
  std::vector<NodeId> route;
  bool operator==(const HistoryBatch&) const = default;
};

// A holder missing part of an off-chain object (kManifestPart: its
// manifest) asks for it; routed like a HistoryRequest to a holder of `user`.
struct BlobRequest {
  std::uint64_t request_id = 0;
  UserId user;
  Hash blob;
  std::uint32_t part = 0;
  std::vector<NodeId> route;
  bool remote = false;  // as in HistoryRequest
  bool operator==(const BlobRequest&) const = default;
};

// The answer to a BlobRequest: the part's bytes, or found = false when the
// holder asked has not got it. `route` as in HistoryBatch.
struct BlobPart {
  std::uint64_t request_id = 0;
  Hash blob;
  std::uint32_t part = 0;
  bool found = false;
  SharedBytes bytes;
  std::vector<NodeId> route;
  bool operator==(const BlobPart&) const = default;
};

// "Nothing here": the answer to a routed request, addressed back along its route.
HistoryBatch empty_answer(const HistoryRequest& req);
BlobPart empty_answer(const BlobRequest& req);

// An answer (HistoryBatch, BlobPart) one hop further back: nullopt unless
// this node is its next hop and a hop remains after it.
template <class Answer>
std::optional<Answer> step_back(const Answer& a, NodeId self) {
  if (a.route.size() < 2 || a.route.back() != self) return std::nullopt;
  Answer next = a;
  next.route.pop_back();
  return next;
}

// receiver -> sender of a MembershipUpdate or RemotePresence: it arrived
// and is stored. Names the message by the hash of its encoding.
struct Ack {
  Hash message_hash;
  bool operator==(const Ack&) const = default;
};

// ---- between the replicas of a consensus group (PBFT, docs/CONSENSUS.md) ----

// More replicas than a header can carry signatures of are never configured.
inline constexpr std::size_t kMaxGroupReplicas = kMaxHeaderSignatures;

// leader -> replicas: the block it proposes at header.height in `view`: the
// header, the body (each entry with its origin and the holders it goes to,
// encoded as consensus nodes store it) and the leader's prepare signature.
struct Proposal {
  std::uint64_t view = 0;
  BlockHeader header;
  SharedBytes body;
  Signature prepare;
  // Every block of the network below this height reached all its members:
  // replicas forget those, a new leader delivers only the later ones again.
  std::uint64_t delivered_below = 0;
  bool operator==(const Proposal&) const = default;
};

enum class VotePhase : std::uint8_t { kPrepare = 0, kCommit = 1, kSuspect = 2 };

// replica -> replicas: a prepare or commit vote for a header in a view. A
// commit signature is a header signature (header_signing_bytes): 2f+1 of
// one view are the block's quorum certificate. A suspect vote (no header)
// says the sender timed out in `view`: f+1 of them start a view change.
struct Vote {
  VotePhase phase = VotePhase::kPrepare;
  std::uint64_t view = 0;
  std::uint64_t height = 0;
  Hash header_hash;
  Signature signature;
  bool operator==(const Vote&) const = default;
};

// A header prepared in a view: 2f+1 prepare signatures, sorted by signer.
struct PreparedCert {
  std::uint64_t view = 0;
  BlockHeader header;
  std::vector<HeaderSignature> prepares;
  bool operator==(const PreparedCert&) const = default;
};

template <>
struct Codec<PreparedCert> {
  static void write(Writer& w, const PreparedCert& v);
  static PreparedCert read(Reader& r);
};

// replica -> replicas: move to `view`. Carries the sender's last committed
// header (with its certificate) and the block it prepared above it, if any.
struct ViewChange {
  std::uint64_t view = 0;
  NodeId sender;
  std::optional<SignedHeader> committed;
  std::optional<PreparedCert> prepared;
  Signature signature;  // the sender's, over everything above
  // The prepared block's body, sent to the new leader only (not signed: it
  // must match the prepared header's Merkle root).
  SharedBytes body;
  bool operator==(const ViewChange&) const = default;
};

// The bytes a view change's sender signs: a domain tag and its content.
Bytes view_change_signing_bytes(const ViewChange& v);

// new leader -> replicas: the 2f+1 view changes (without bodies) that start
// `view`; they fix what the first block of the view must be.
struct NewView {
  std::uint64_t view = 0;
  std::vector<ViewChange> view_changes;
  bool operator==(const NewView&) const = default;
};

// replica -> replica: send me committed blocks from this height on (and the
// NewView of your view when mine, `view`, is older).
struct BlockFetch {
  std::uint64_t from_height = 0;
  std::uint64_t view = 0;
  bool operator==(const BlockFetch&) const = default;
};

// replica -> replica: a committed block with its quorum certificate.
struct CommittedBlock {
  SignedHeader header;
  SharedBytes body;
  bool operator==(const CommittedBlock&) const = default;
};

// replica -> replicas: a member's request that came to a replica that does
// not lead; the leader handles it as if from `origin`, the others watch it.
struct Forwarded {
  NodeId origin;
  SharedBytes message;  // the encoded Message
  bool operator==(const Forwarded&) const = default;
};

// index node -> the index chain's leader: transactions to order (docs/
// CONSENSUS.md, "The index chain"). Sent again on time-out until they are
// committed; the leader drops those it holds or committed already.
struct IndexSubmit {
  std::vector<IndexTx> txs;  // at most kMaxIndexBlockTxs
  bool operator==(const IndexSubmit&) const = default;
};

// replica -> members of its network: the group committed up to `height`
// (its last committed block). A replica sends it when blocks committed a
// while ago were never said delivered; a member without that height asks
// for it (CatchUpRequest). A hint only: it changes no state, so a lie costs
// a catch-up request.
struct CommittedTip {
  NetworkId network;
  std::uint64_t height = 0;
  bool operator==(const CommittedTip&) const = default;
};

using Message = std::variant<StoreRequest, PresenceQuery, PresenceFlag, TxRequest, Committed,
                             Rejected, BlockDelivery, DeliveryAck, CatchUpRequest, MembershipUpdate,
                             RemotePresence, HistoryRequest, HistoryBatch, Ack, BlobRequest,
                             BlobPart, Proposal, Vote, ViewChange, NewView, BlockFetch,
                             CommittedBlock, Forwarded, IndexSubmit, CommittedTip>;
inline constexpr std::size_t kMessageTypeCount = std::variant_size_v<Message>;

// True for the messages replicas of a consensus group exchange among
// themselves (Proposal ... Forwarded); IndexSubmit is the index chain's.
inline bool is_group_message(const Message& m) {
  return m.index() >= 16 && m.index() <= 22;
}
static_assert(std::is_same_v<std::variant_alternative_t<16, Message>, Proposal> &&
              std::is_same_v<std::variant_alternative_t<22, Message>, Forwarded> &&
              std::is_same_v<std::variant_alternative_t<23, Message>, IndexSubmit>);

// Messages are immutable once sent: a broadcast shares one object.
using MessagePtr = std::shared_ptr<const Message>;
// From the record-state pool: nearly every record sends a few, and all are
// one size, so the memory of the last one delivered goes to the next.
template <class T>
MessagePtr make_message(T&& m) {
  return std::allocate_shared<const Message>(
      std::pmr::polymorphic_allocator<Message>(record_state_pool()), std::forward<T>(m));
}

// snake_case names ("store_request", ...); "unknown" past the last type.
std::string_view message_type_name(std::size_t type_index);
inline std::string_view message_type_name(const Message& m) {
  return message_type_name(m.index());
}

// One tag byte (the variant index; kUnknownType past the last) and the
// message. The whole top-level encoding, version byte included, is at most
// kMaxMessageBytes (kOversize on decode).
template <>
struct Codec<Message> {
  static void write(Writer& w, const Message& v);
  static Message read(Reader& r);
};

// The hash an Ack names for a message: of its whole encoding, so it names
// the content (two deliveries of one block with different entries differ).
Hash message_hash(const Message& m);

// Encoded size in bytes, for bandwidth accounting (exact): the whole
// top-level encoding, version byte included, i.e. encode(m).size(). Counted
// without allocating or copying payloads.
std::size_t encoded_size(const Message& m);

}  // namespace mhr
