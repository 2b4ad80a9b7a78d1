#include "common/audit_log.hpp"

#include "common/verification.hpp"

namespace mhr {

namespace {
constexpr std::uint8_t kEntryTag = 'e';   // sequence -> entry
constexpr std::uint8_t kUserTag = 'u';    // user, sequence -> {}
constexpr std::uint8_t kAnchorTag = 'a';  // sequence -> anchor, height, proof

Bytes seq_key(std::uint8_t tag, std::uint64_t seq) {
  Bytes k{tag};
  append_be64(k, seq);
  return k;
}

Bytes user_seq_key(const UserId& user, std::uint64_t seq) {
  Bytes k = tagged_key(kUserTag, user.view());
  append_be64(k, seq);
  return k;
}

struct StoredAnchor {
  AuditAnchor anchor;
  std::uint64_t height = 0;
  MerkleProof proof;
};

Bytes encode_anchor(const StoredAnchor& a) {
  Writer w;
  w.u8(kCodecVersion);
  Codec<AuditAnchor>::write(w, a.anchor);
  w.varint(a.height);
  Codec<MerkleProof>::write(w, a.proof);
  return w.take();
}

std::optional<StoredAnchor> decode_anchor(ByteView in) {
  Reader r(in);
  r.version();
  StoredAnchor a;
  a.anchor = Codec<AuditAnchor>::read(r);
  a.height = r.varint();
  a.proof = Codec<MerkleProof>::read(r);
  if (r.finish_error()) return std::nullopt;
  return a;
}
}  // namespace

void AuditLog::load() {
  head_.reset();
  last_anchored_.reset();
  if (auto last = store_.last_with_prefix(Table::kAudit, Bytes{kEntryTag})) {
    auto e = decode<AuditEntry>(last->second);
    MHR_ASSERT_MSG(e.ok(), "stored audit entry does not decode");
    head_ = {e.value().sequence, audit_entry_hash(e.value())};
  }
  if (auto last = store_.last_with_prefix(Table::kAudit, Bytes{kAnchorTag}))
    last_anchored_ = read_be64(ByteView(last->first).subspan(1));
}

AuditEntry AuditLog::append(WriteBatch& batch, AuditEntry e) {
  e.sequence = head_ ? head_->first + 1 : 0;
  e.prev_hash = head_ ? head_->second : Hash{};
  if (e.detail.size() > kMaxAuditDetailBytes) e.detail.resize(kMaxAuditDetailBytes);
  batch.put(Table::kAudit, seq_key(kEntryTag, e.sequence), encode(e));
  batch.put(Table::kAudit, user_seq_key(e.user, e.sequence), {});
  head_ = {e.sequence, audit_entry_hash(e)};
  return e;
}

std::vector<AuditEntry> AuditLog::for_user(const UserId& user, std::size_t max) const {
  std::vector<std::uint64_t> seqs;
  store_.scan_prefix(Table::kAudit, tagged_key(kUserTag, user.view()), [&](ByteView k, ByteView) {
    seqs.push_back(read_be64(k.subspan(1 + UserId::kSize)));
    return true;
  });
  if (seqs.size() > max) seqs.erase(seqs.begin(), seqs.end() - static_cast<std::ptrdiff_t>(max));
  std::vector<AuditEntry> out;
  for (std::uint64_t s : seqs) {
    auto v = store_.get(Table::kAudit, seq_key(kEntryTag, s));
    MHR_ASSERT_MSG(v.has_value(), "audit index names a missing entry");
    auto e = decode<AuditEntry>(*v);
    MHR_ASSERT_MSG(e.ok(), "stored audit entry does not decode");
    out.push_back(std::move(e).value());
  }
  return out;
}

void AuditLog::put_anchor(WriteBatch& batch, const AuditAnchor& anchor, std::uint64_t height,
                          const MerkleProof& proof) {
  batch.put(Table::kAudit, seq_key(kAnchorTag, anchor.sequence),
            encode_anchor({anchor, height, proof}));
  if (!last_anchored_ || anchor.sequence > *last_anchored_) last_anchored_ = anchor.sequence;
}

namespace {

std::string at_entry(std::uint64_t seq) {
  return "audit entry " + std::to_string(seq) + ": ";
}

// Entries: consecutive sequences, each linked to the one before; collects
// each entry's hash for the anchors.
std::optional<std::string> entries_error(const Store& store, std::vector<Hash>& hashes,
                                         std::vector<UserId>& users) {
  std::optional<std::string> problem;
  store.scan_prefix(Table::kAudit, Bytes{kEntryTag}, [&](ByteView k, ByteView v) {
    const std::uint64_t seq = hashes.size();
    auto e = decode<AuditEntry>(v);
    if (k.size() != 9 || read_be64(k.subspan(1)) != seq) {
      problem = at_entry(seq) + "missing (the chain has a hole)";
    } else if (!e.ok()) {
      problem = at_entry(seq) + "does not decode";
    } else if (e.value().sequence != seq) {
      problem = at_entry(seq) + "holds sequence " + std::to_string(e.value().sequence);
    } else if (e.value().prev_hash != (seq == 0 ? Hash{} : hashes.back())) {
      problem = at_entry(seq) + "does not link to the entry before it";
    }
    if (problem) return false;
    hashes.push_back(audit_entry_hash(e.value()));
    users.push_back(e.value().user);
    return true;
  });
  return problem;
}

std::optional<std::string> user_index_error(const Store& store, const std::vector<UserId>& users) {
  std::optional<std::string> problem;
  std::uint64_t indexed = 0;
  store.scan_prefix(Table::kAudit, Bytes{kUserTag}, [&](ByteView k, ByteView v) {
    const std::uint64_t seq = k.size() == 41 ? read_be64(k.subspan(33)) : UINT64_MAX;
    if (seq >= users.size() || users[seq] != UserId::from_view(k.subspan(1, 32)) || !v.empty()) {
      problem = "audit index entry names no matching audit entry";
      return false;
    }
    ++indexed;
    return true;
  });
  if (!problem && indexed != users.size()) problem = "audit index misses entries";
  return problem;
}

std::optional<std::string> anchor_error(const Store& store, const StoredAnchor& a,
                                        const std::vector<Hash>& hashes, const Topology* topology,
                                        const Verifier& verifier) {
  const std::string where = "audit anchor at entry " + std::to_string(a.anchor.sequence) + ": ";
  if (a.anchor.sequence >= hashes.size()) return where + "anchors an entry that is missing";
  if (hashes[a.anchor.sequence] != a.anchor.head)
    return where + "the anchored head differs from the entry (edited or replaced)";
  auto sh = ChainStore(store).header(a.anchor.network, a.height);
  if (!sh) return where + "its block header is missing";
  const Entry entry{a.anchor};
  if (topology) {
    if (auto e = entry_error(entry, entry_hash(entry), a.proof, sh->header, *topology, verifier))
      return where + *e;
  } else if (auto e = inclusion_error(entry_hash(entry), a.proof, sh->header)) {
    return where + *e;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> audit_chain_error(const Store& store, const Topology* topology,
                                             const Verifier& verifier) {
  std::optional<std::string> stray;
  store.scan(Table::kAudit, {}, {}, [&](ByteView k, ByteView) {
    if (!k.empty() && (k[0] == kEntryTag || k[0] == kUserTag || k[0] == kAnchorTag)) return true;
    stray = "table audit, key " + to_hex(k) + ": unknown kind of entry";
    return false;
  });
  if (stray) return stray;
  std::vector<Hash> hashes;
  std::vector<UserId> users;
  if (auto e = entries_error(store, hashes, users)) return e;

  if (auto e = user_index_error(store, users)) return e;
  std::optional<std::string> problem;
  store.scan_prefix(Table::kAudit, Bytes{kAnchorTag}, [&](ByteView k, ByteView v) {
    auto a = decode_anchor(v);
    if (!a || k.size() != 9 || read_be64(k.subspan(1)) != a->anchor.sequence) {
      problem = "an audit anchor does not decode";
      return false;
    }
    problem = anchor_error(store, *a, hashes, topology, verifier);
    return !problem;
  });
  return problem;
}

}  // namespace mhr
