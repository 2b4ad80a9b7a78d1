#include "tools/verify/table_check.hpp"

#include <map>
#include <set>

#include "common/audit_log.hpp"
#include "common/blob.hpp"
#include "common/chain_store.hpp"
#include "common/consent_book.hpp"
#include "common/messages.hpp"
#include "common/signer.hpp"
#include "consensus_node/block_body.hpp"
#include "tools/verify/store_layout.hpp"

namespace mhr {

namespace {

constexpr std::size_t kUserKeyBytes = 1 + UserId::kSize;
constexpr std::size_t kMaxRowItems = 100'000;

// What records and block bodies say the derived indexes must hold.
struct Derived {
  std::set<Hash> record_hashes;
  std::set<UserId> record_users;
  bool has_blocks = false;
  NetworkId block_network;
  std::map<Hash, Bytes> block_index;                 // entry hash -> be64 height
  std::map<UserId, ChainTip> tips;                   // own-network records, block order
  std::map<UserId, std::set<NodeId>> registered_at;  // registrations in blocks
};

Bytes be64(std::uint64_t v) {
  Bytes b;
  append_be64(b, v);
  return b;
}

Derived derive(const Store& store) {
  Derived d;
  store.scan(Table::kRecords, {}, {}, [&](ByteView, ByteView value) {
    // Records were decoded and checked before: this only collects them.
    d.record_hashes.insert(Hash::from_view(value.first(Hash::kSize)));
    if (auto r = decode<Record>(value.subspan(Hash::kSize)); r.ok()) d.record_users.insert(r->user);
    return true;
  });
  store.scan(Table::kBlocks, {}, {}, [&](ByteView key, ByteView value) {
    d.has_blocks = true;
    d.block_network = NetworkId{read_be32(key)};
    const std::uint64_t height = read_be64(key.subspan(4));
    auto body = decode_block_body(value);
    if (!body.ok()) return true;  // reported by the block body check
    for (const PlacedEntry& p : body.value()) {
      d.block_index[p.hash] = be64(height);
      if (const auto* r = std::get_if<Record>(&p.entry)) {
        d.tips[r->user] = ChainTip{r->sequence, p.hash};
      } else if (const auto* reg = std::get_if<Registration>(&p.entry)) {
        d.registered_at[reg->user].insert(reg->node);
      }  // audit anchors are checked with the audit chain
    }
    return true;
  });
  return d;
}

class TableCheck {
 public:
  TableCheck(const Store& store, const Topology* topology)
      : store_(store),
        topology_(topology),
        verifier_(topology ? verifier_for(topology->params().crypto) : ed25519_verifier()),
        derived_(derive(store)) {}

  std::optional<std::string> run() {
    unused(Table::kMeta);
    blobs();
    record_index();
    users();
    pending();
    if (!problem_) problem_ = consent_book_error(store_, verifier_);
    if (!problem_) problem_ = audit_chain_error(store_, topology_, verifier_);
    return problem_;
  }

 private:
  void fail(Table t, ByteView key, const std::string& what) {
    if (!problem_)
      problem_ = "table " + std::string(table_name(t)) + ", key " + to_hex(key) + ": " + what;
  }
  void fail(const std::string& what) {
    if (!problem_) problem_ = what;
  }

  // Tables nothing writes yet must be empty.
  void unused(Table t) {
    store_.scan(t, {}, {}, [&](ByteView key, ByteView) {
      fail(t, key, "an entry in a table nothing writes");
      return false;
    });
  }

  // The stored manifest, unless missing or undecodable (reported with its key).
  std::optional<BlobManifest> manifest_of_blob(const Hash& id) const {
    auto raw = store_.get(Table::kBlobs, tagged_key(kBlobManifestTag, id.view()));
    if (!raw) return std::nullopt;
    auto m = decode<BlobManifest>(*raw);
    return m.ok() ? std::optional<BlobManifest>(std::move(m).value()) : std::nullopt;
  }

  // Off-chain objects: every manifest hashes to its id, every chunk matches
  // its manifest, every owed object is named as its key says.
  void blobs() {
    std::optional<std::pair<Hash, std::optional<BlobManifest>>> last;  // chunks come in id order
    store_.scan(Table::kBlobs, {}, {}, [&](ByteView key, ByteView value) {
      const std::uint8_t tag = key.empty() ? 0 : key[0];
      const std::size_t want_size = tag == kBlobChunkTag ? 1 + Hash::kSize + 4 : 1 + Hash::kSize;
      if (key.size() != want_size) return fail(Table::kBlobs, key, "malformed key"), false;
      const Hash id = Hash::from_view(key.subspan(1, Hash::kSize));
      switch (tag) {
        case kBlobManifestTag: {
          auto m = decode<BlobManifest>(value);
          if (!m.ok() || blob_id(*m) != id)
            fail(Table::kBlobs, key, "manifest does not decode or hash to its id");
          break;
        }
        case kBlobChunkTag: {
          if (!last || last->first != id) last.emplace(id, manifest_of_blob(id));
          if (!last->second) return fail(Table::kBlobs, key, "a chunk without its manifest"), false;
          if (auto e = chunk_error(*last->second, read_be32(key.subspan(1 + Hash::kSize)), value))
            fail(Table::kBlobs, key, "chunk: " + *e);
          break;
        }
        case kBlobWantTag: {
          auto w = decode<BlobWant>(value);
          if (!w.ok() || w->ref.hash != id)
            fail(Table::kBlobs, key, "owed object does not decode or names another");
          break;
        }
        default:
          fail(Table::kBlobs, key, "unknown kind of entry");
      }
      return !problem_;
    });
  }

  // Recomputed from the block bodies on a consensus node, from the records
  // elsewhere: every key must be there, and nothing may be missing.
  void record_index() {
    std::size_t n = 0;
    store_.scan(Table::kRecordIndex, {}, {}, [&](ByteView key, ByteView value) {
      ++n;
      if (key.size() != Hash::kSize) return fail(Table::kRecordIndex, key, "malformed key"), false;
      const Hash h = Hash::from_view(key);
      if (derived_.has_blocks) {
        auto it = derived_.block_index.find(h);
        if (it == derived_.block_index.end())
          return fail(Table::kRecordIndex, key, "no block body holds this entry"), false;
        if (it->second != Bytes(value.begin(), value.end()))
          return fail(Table::kRecordIndex, key, "height differs from the block holding it"), false;
      } else {
        if (!derived_.record_hashes.contains(h))
          return fail(Table::kRecordIndex, key, "no stored record has this hash"), false;
        if (!decode<RecordPlace>(value).ok())
          return fail(Table::kRecordIndex, key, "place does not decode"), false;
      }
      return true;
    });
    const std::size_t expected =
        derived_.has_blocks ? derived_.block_index.size() : derived_.record_hashes.size();
    if (n != expected)
      fail("table record_index holds " + std::to_string(n) + " entries where " +
           std::to_string(expected) + " are derived from " +
           (derived_.has_blocks ? "the block bodies" : "the records"));
  }

  void users() {
    std::set<UserId> registered;
    std::size_t tips = 0;
    store_.scan(Table::kUsers, {}, {}, [&](ByteView key, ByteView value) {
      if (is_consent_key(key)) return true;             // checked against the patient acts
      if (!key.empty() && key[0] == layout::kKeyAct) {  // consensus: a body holding sealed keys
        if (key.size() != kUserKeyBytes + 8 || !value.empty() ||
            !store_.get(Table::kBlocks,
                        header_key(derived_.block_network, read_be64(key.subspan(kUserKeyBytes)))))
          return fail(Table::kUsers, key, "a key marker naming no stored block body"), false;
        return true;
      }
      if (key.size() != kUserKeyBytes) return fail(Table::kUsers, key, "malformed key"), false;

      const UserId user = UserId::from_view(key.subspan(1));
      Reader r(value);
      switch (key[0]) {
        case layout::kErasedUser:
          if (!value.empty()) fail(Table::kUsers, key, "an erasure mark with a value");
          break;
        case layout::kRegisteredUser:
          if (!value.empty()) fail(Table::kUsers, key, "a registration mark with a value");
          registered.insert(user);
          break;
        case layout::kTip: {
          ++tips;
          auto it = derived_.tips.find(user);
          ChainTip t{r.varint(), r.fixed_as<Hash>()};
          if (r.finish_error()) {
            fail(Table::kUsers, key, "chain tip does not decode");
          } else if (it == derived_.tips.end() || !(it->second == t)) {
            fail(Table::kUsers, key, "chain tip differs from the user's last record in the blocks");
          }
          break;
        }
        case layout::kSharingRow: {
          const std::uint8_t remote = r.u8();
          std::vector<NodeId> holders(r.count(kMaxRowItems));
          for (NodeId& n : holders) n = NodeId{r.u32()};
          if (r.finish_error() || remote > 2) {
            fail(Table::kUsers, key, "sharing table row does not decode");
            break;
          }
          for (std::size_t i = 0; i < holders.size(); ++i) {
            if (i > 0 && !(holders[i - 1] < holders[i]))
              fail(Table::kUsers, key, "sharing table holders not in order");
            if (topology_ && (!topology_->has_node(holders[i]) ||
                              topology_->node(holders[i]).role != NodeRole::kRecord))
              fail(Table::kUsers, key, "sharing table names a node that is no record node");
          }
          for (NodeId n : derived_.registered_at[user])
            if (!std::binary_search(holders.begin(), holders.end(), n))
              fail(Table::kUsers, key,
                   "sharing table lacks node " + std::to_string(n.value) +
                       ", where a block registered the user");
          break;
        }
        case layout::kNetworkRow: {
          std::vector<NetworkId> nets(r.count(kMaxRowItems));
          for (NetworkId& n : nets) n = NetworkId{r.u32()};
          if (r.finish_error()) {
            fail(Table::kUsers, key, "network table row does not decode");
            break;
          }
          std::set<NetworkId> seen(nets.begin(), nets.end());
          if (seen.size() != nets.size()) fail(Table::kUsers, key, "a network listed twice");
          for (NetworkId n : nets)
            if (topology_ && !topology_->has_network(n))
              fail(Table::kUsers, key, "network table names an unknown network");
          break;
        }
        default:
          fail(Table::kUsers, key, "unknown kind of entry");
      }
      return !problem_;
    });
    if (problem_) return;
    if (tips != derived_.tips.size())
      fail("table users holds " + std::to_string(tips) + " chain tips where the blocks have " +
           std::to_string(derived_.tips.size()) + " users");
    // Sparse sharing: a record node keeps records only of users registered there.
    const bool sparse = topology_ && topology_->params().replication == Replication::kSparse;
    if (!problem_ && sparse && !derived_.record_users.empty())
      for (const UserId& u : derived_.record_users)
        if (!registered.contains(u)) {
          fail("records of user " + u.short_hex() + " are stored, but the user is not registered");
          break;
        }
  }

  template <class T>
  std::optional<T> decode_value(ByteView key, ByteView value, const char* what) {
    auto v = decode<T>(value);
    if (!v.ok()) {
      fail(Table::kPending, key, std::string(what) + " does not decode");
      return std::nullopt;
    }
    return std::move(v).value();
  }

  void check_record(ByteView key, const Record& r) {
    if (!verify_record_signature(r, verifier_))
      fail(Table::kPending, key, "record signature does not verify");
  }

  // A delivery stored under its block's header key and its own hash.
  void delivery(ByteView key, ByteView encoded, ByteView id) {
    const ByteView header_key_bytes = id.first(12);
    if (sha256(encoded) != Hash::from_view(id.subspan(12)))
      return fail(Table::kPending, key, "delivery does not match its hash");
    auto m = decode_value<Message>(key, encoded, "delivery");
    if (!m) return;
    const auto* d = std::get_if<BlockDelivery>(&*m);
    if (!d) return fail(Table::kPending, key, "not a block delivery");
    const BlockHeader& h = d->header.header;
    if (header_key(h.network, h.height) != Bytes(header_key_bytes.begin(), header_key_bytes.end()))
      fail(Table::kPending, key, "delivery of another block than its key names");
  }

  void pending() {
    store_.scan(Table::kPending, {}, {}, [&](ByteView key, ByteView value) {
      if (key.empty()) return fail(Table::kPending, key, "empty key"), false;
      const ByteView id = key.subspan(1);
      switch (key[0]) {
        case layout::kPendingRegistration: {
          if (id.size() != UserId::kSize) return fail(Table::kPending, key, "malformed key"), false;
          auto reg = decode_value<Registration>(key, value, "registration");
          if (reg && reg->user != UserId::from_view(id))
            fail(Table::kPending, key, "registration of another user");
          if (reg && !verify_registration_signature(*reg, verifier_))
            fail(Table::kPending, key, "registration signature does not verify");
          break;
        }
        case layout::kPendingRecord: {
          if (id.size() != Hash::kSize) return fail(Table::kPending, key, "malformed key"), false;
          auto r = decode_value<Record>(key, value, "record");
          if (r && record_hash(*r) != Hash::from_view(id))
            fail(Table::kPending, key, "record does not match its hash");
          if (r) check_record(key, *r);
          break;
        }
        case layout::kPendingSync:
          if (id.size() != UserId::kSize || !value.empty())
            fail(Table::kPending, key, "malformed sync mark");
          break;
        case layout::kParkedRecord: {
          Reader r(value);
          r.version();
          Record rec = Codec<Record>::read(r);
          RecordPlace place = Codec<RecordPlace>::read(r);
          if (r.finish_error()) {
            fail(Table::kPending, key, "parked record does not decode");
            break;
          }
          if (record_key(rec.user, rec.network, rec.sequence) != Bytes(id.begin(), id.end()))
            fail(Table::kPending, key, "parked record stored under another key");
          check_record(key, rec);
          if (auto sh = ChainStore(store_).header(place.network, place.height))
            if (auto e = inclusion_error(record_hash(rec), place.proof, sh->header))
              fail(Table::kPending, key, "parked record: " + *e);
          break;
        }
        case layout::kOutgoingOwn:
          if (id.size() != 8 || !value.empty()) {
            fail(Table::kPending, key, "malformed outgoing block mark");
          } else if (!derived_.has_blocks ||
                     !store_.get(Table::kBlocks,
                                 header_key(derived_.block_network, read_be64(id)))) {
            fail(Table::kPending, key, "outgoing block mark without its block");
          }
          break;
        case layout::kForeign:
          if (id.size() != 12 + Hash::kSize)
            return fail(Table::kPending, key, "malformed key"), false;
          delivery(key, value, id);
          break;
        case layout::kOutbox:
          if (id.size() != 4 + Hash::kSize)
            return fail(Table::kPending, key, "malformed key"), false;
          if (sha256(value) != Hash::from_view(id.subspan(4)))
            fail(Table::kPending, key, "queued message does not match its hash");
          else
            decode_value<Message>(key, value, "queued message");
          break;
        case layout::kHandoff: {
          if (id.size() != 4 + 12 + Hash::kSize)
            return fail(Table::kPending, key, "malformed key"), false;
          Reader r(value);
          const NodeId to{r.u32()};
          if (r.boolean()) r.u32();
          const ByteView rest = r.fixed(r.remaining());
          if (!r.ok() || to.value != read_be32(id)) {
            fail(Table::kPending, key, "hand-off does not decode or names another receiver");
            break;
          }
          delivery(key, rest, id.subspan(4));
          break;
        }
        case layout::kReplay: {
          Reader r(value);
          r.varint();
          if (id.size() != 4 + UserId::kSize || r.finish_error())
            fail(Table::kPending, key, "malformed replay mark");
          break;
        }
        case layout::kAgreement:
        case layout::kIndexAgreement:
          // A replica's view, votes sent and prepared block: what it may
          // still vote on after a restart (docs/CONSENSUS.md).
          if (!id.empty() || value.empty() || value.size() > 2 * kMaxMessageBytes)
            fail(Table::kPending, key, "malformed agreement state");
          break;
        case layout::kAwaited: {
          Reader r(value);
          r.version();
          Codec<SignedHeader>::read(r);
          const std::size_t n = r.count(kMaxIndexBlockTxs, Hash::kSize);
          for (std::size_t i = 0; i < n && r.ok(); ++i) r.fixed_as<Hash>();
          if (id.size() != 8 || n == 0 || r.finish_error())
            fail(Table::kPending, key, "malformed awaited block");
          break;
        }
        case layout::kIndexSubmit: {
          if (id.size() != Hash::kSize) return fail(Table::kPending, key, "malformed key"), false;
          auto tx = decode_value<IndexTx>(key, value, "index transaction");
          if (tx && index_tx_hash(*tx) != Hash::from_view(id))
            fail(Table::kPending, key, "index transaction does not match its hash");
          break;
        }
        default:
          fail(Table::kPending, key, "unknown kind of entry");
      }
      return !problem_;
    });
  }

  const Store& store_;
  const Topology* topology_;
  const Verifier& verifier_;
  Derived derived_;
  std::optional<std::string> problem_;
};

}  // namespace

std::optional<std::string> check_other_tables(const Store& store, const Topology* topology) {
  return TableCheck(store, topology).run();
}

}  // namespace mhr
