// Where a node keeps chain data in its Store. The logical index holds
// records by (user, network, sequence); the verification index holds
// headers by (network, height) and, for each record hash, the block and
// Merkle proof that commit to it. Every role and the offline checkers read
// stores through this one layout.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "common/entry.hpp"
#include "common/messages.hpp"
#include "common/store.hpp"
#include "common/store_key.hpp"

namespace mhr {

// Where a record is committed: its network's block and the proof into it.
struct RecordPlace {
  NetworkId network;
  std::uint64_t height = 0;
  MerkleProof proof;
  bool operator==(const RecordPlace&) const = default;
};

template <>
struct Codec<RecordPlace> {
  static void write(Writer& w, const RecordPlace& v);
  static RecordPlace read(Reader& r);
};

// Big-endian fixed-width integers keep keys in numeric order.
void append_be32(Bytes& out, std::uint32_t v);
void append_be64(Bytes& out, std::uint64_t v);
std::uint64_t read_be64(ByteView in);
std::uint32_t read_be32(ByteView in);
// A key of a table shared by several kinds of entry: a one-byte kind, then an id.
StoreKey tagged_key(std::uint8_t tag, ByteView id);

class ChainStore {
 public:
  explicit ChainStore(const Store& store) : store_(store) {}
  const Store& store() const { return store_; }

  // ---- records (logical index) ----
  std::optional<ChainTip> tip(const UserId& user, NetworkId network) const;
  std::optional<Record> record(const UserId& user, NetworkId network, std::uint64_t seq) const;
  // Every record of a user with its hash, ordered by (network, sequence).
  void for_each_record(const UserId& user,
                       const std::function<void(const Hash&, const Record&)>& fn) const;
  // Per network, the next sequence this store lacks for the user.
  std::vector<KnownChain> known_chains(const UserId& user) const;
  void put_record(WriteBatch& batch, const Record& record, const Hash& hash,
                  const RecordPlace& place) const;
  // Keeps the record without its payload bytes (same hash and signature).
  void erase_payload(WriteBatch& batch, const Record& record, const Hash& hash) const;
  std::uint64_t record_count() const;

  // ---- verification index ----
  std::optional<RecordPlace> place_of(const Hash& record_hash) const;
  bool has_record_hash(const Hash& record_hash) const;
  void put_header(WriteBatch& batch, const SignedHeader& header) const;
  std::optional<SignedHeader> header(NetworkId network, std::uint64_t height) const;
  std::optional<SignedHeader> last_header(NetworkId network) const;

  // Every stored record with its hash, in key order (checkers, reports).
  void for_each(const std::function<void(const Hash&, const Record&)>& fn) const;

 private:
  const Store& store_;
};

StoreKey record_key(const UserId& user, NetworkId network, std::uint64_t seq);
// The start of every kRecords key of the user.
Bytes record_key_prefix(const UserId& user);
StoreKey header_key(NetworkId network, std::uint64_t height);

}  // namespace mhr
