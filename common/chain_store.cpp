#include "common/chain_store.hpp"

#include <cstring>

namespace mhr {

namespace {

constexpr std::size_t kUserNetworkPrefixBytes = 32 + 4;

Bytes user_prefix(const UserId& user) {
  return Bytes(user.bytes.begin(), user.bytes.end());
}

StoreKey user_network_prefix(const UserId& user, NetworkId network) {
  StoreKey k(user.view());
  k.be32(network.value);
  return k;
}

// A record value is its hash followed by its encoding, so tips cost no
// hashing; written straight into the batch.
void put_record_value(WriteBatch& batch, ByteView key, const Record& r, const Hash& hash) {
  batch.put_written(Table::kRecords, key, Hash::kSize + encoded_size(r), [&](Writer& w) {
    w.fixed(hash);
    write_versioned(w, r);
  });
}

// Stored data was written by us and checked then: damage is a broken invariant.
Record decode_stored_record(ByteView value) {
  MHR_ASSERT_MSG(value.size() > Hash::kSize, "stored record too short");
  auto r = decode<Record>(value.subspan(Hash::kSize));
  MHR_ASSERT_MSG(r.ok(), "stored record does not decode");
  return std::move(r).value();
}

}  // namespace

std::uint32_t read_be32(ByteView in) {
  MHR_ASSERT(in.size() >= 4);
  return std::uint32_t{in[0]} << 24 | std::uint32_t{in[1]} << 16 | std::uint32_t{in[2]} << 8 |
         std::uint32_t{in[3]};
}

void append_be32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

void append_be64(Bytes& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

std::uint64_t read_be64(ByteView in) {
  MHR_ASSERT(in.size() >= 8);
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | in[i];
  return v;
}

StoreKey tagged_key(std::uint8_t tag, ByteView id) {
  StoreKey k;
  k.u8(tag).append(id);
  return k;
}

Bytes record_key_prefix(const UserId& user) {
  return user_prefix(user);
}

StoreKey record_key(const UserId& user, NetworkId network, std::uint64_t seq) {
  StoreKey k = user_network_prefix(user, network);
  k.be64(seq);
  return k;
}

StoreKey header_key(NetworkId network, std::uint64_t height) {
  StoreKey k;
  k.be32(network.value).be64(height);
  return k;
}

void Codec<RecordPlace>::write(Writer& w, const RecordPlace& v) {
  w.varint(v.network.value);
  w.varint(v.height);
  Codec<MerkleProof>::write(w, v.proof);
}

RecordPlace Codec<RecordPlace>::read(Reader& r) {
  RecordPlace v;
  v.network = NetworkId{r.u32()};
  v.height = r.varint();
  v.proof = Codec<MerkleProof>::read(r);
  return v;
}

std::optional<ChainTip> ChainStore::tip(const UserId& user, NetworkId network) const {
  // Read in place: a record node looks it up for every record it stores.
  std::optional<ChainTip> tip;
  store_.read_last_with_prefix(Table::kRecords, user_network_prefix(user, network),
                               [&tip](ByteView key, ByteView value) {
                                 MHR_ASSERT(key.size() == kUserNetworkPrefixBytes + 8);
                                 MHR_ASSERT(value.size() > Hash::kSize);
                                 tip = ChainTip{read_be64(key.subspan(kUserNetworkPrefixBytes)),
                                                Hash::from_view(value.first(Hash::kSize))};
                               });
  return tip;
}

std::optional<Record> ChainStore::record(const UserId& user, NetworkId network,
                                         std::uint64_t seq) const {
  auto v = store_.get(Table::kRecords, record_key(user, network, seq));
  if (!v) return std::nullopt;
  return decode_stored_record(*v);
}

void ChainStore::for_each_record(const UserId& user,
                                 const std::function<void(const Hash&, const Record&)>& fn) const {
  store_.scan_prefix(Table::kRecords, user_prefix(user), [&](ByteView, ByteView value) {
    fn(Hash::from_view(value.first(Hash::kSize)), decode_stored_record(value));
    return true;
  });
}

std::vector<KnownChain> ChainStore::known_chains(const UserId& user) const {
  std::vector<KnownChain> out;
  store_.scan_prefix(Table::kRecords, user_prefix(user), [&](ByteView key, ByteView) {
    MHR_ASSERT(key.size() == kUserNetworkPrefixBytes + 8);
    NetworkId net{read_be32(key.subspan(32))};
    std::uint64_t next = read_be64(key.subspan(kUserNetworkPrefixBytes)) + 1;
    if (!out.empty() && out.back().network == net) {
      out.back().next_sequence = next;
    } else if (out.size() < kMaxKnownChains) {
      out.push_back({net, next});
    }
    return true;
  });
  return out;
}

void ChainStore::put_record(WriteBatch& batch, const Record& record, const Hash& hash,
                            const RecordPlace& place) const {
  MHR_ASSERT(place.network == record.network);
  put_record_value(batch, record_key(record.user, record.network, record.sequence), record, hash);
  batch.put_encoded(Table::kRecordIndex, hash.view(), place);
}

void ChainStore::erase_payload(WriteBatch& batch, const Record& record, const Hash& hash) const {
  MHR_ASSERT(record_hash(record) == hash);
  put_record_value(batch, record_key(record.user, record.network, record.sequence),
                   with_payload_erased(record), hash);
}

std::uint64_t ChainStore::record_count() const {
  std::uint64_t n = 0;
  store_.scan(Table::kRecords, {}, {}, [&](ByteView, ByteView) {
    ++n;
    return true;
  });
  return n;
}

std::optional<RecordPlace> ChainStore::place_of(const Hash& record_hash) const {
  auto v = store_.get(Table::kRecordIndex, record_hash.view());
  if (!v) return std::nullopt;
  auto p = decode<RecordPlace>(*v);
  MHR_ASSERT_MSG(p.ok(), "stored record place does not decode");
  return std::move(p).value();
}

bool ChainStore::has_record_hash(const Hash& record_hash) const {
  return store_.get(Table::kRecordIndex, record_hash.view()).has_value();
}

void ChainStore::put_header(WriteBatch& batch, const SignedHeader& header) const {
  batch.put_encoded(Table::kHeaders, header_key(header.header.network, header.header.height),
                    header);
}

std::optional<SignedHeader> ChainStore::header(NetworkId network, std::uint64_t height) const {
  auto v = store_.get(Table::kHeaders, header_key(network, height));
  if (!v) return std::nullopt;
  auto h = decode<SignedHeader>(*v);
  MHR_ASSERT_MSG(h.ok(), "stored header does not decode");
  return std::move(h).value();
}

std::optional<SignedHeader> ChainStore::last_header(NetworkId network) const {
  Bytes prefix;
  append_be32(prefix, network.value);
  auto last = store_.last_with_prefix(Table::kHeaders, prefix);
  if (!last) return std::nullopt;
  auto h = decode<SignedHeader>(last->second);
  MHR_ASSERT_MSG(h.ok(), "stored header does not decode");
  return std::move(h).value();
}

void ChainStore::for_each(const std::function<void(const Hash&, const Record&)>& fn) const {
  store_.scan(Table::kRecords, {}, {}, [&](ByteView, ByteView value) {
    fn(Hash::from_view(value.first(Hash::kSize)), decode_stored_record(value));
    return true;
  });
}

}  // namespace mhr
