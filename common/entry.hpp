// What a block orders: health records and chain transactions. Registrations
// are transactions, so the sharing tables can be rebuilt by replaying the
// chain. A ProvenEntry travels with the Merkle proof that ties it to a header.
#pragma once

#include <variant>
#include <vector>

#include "common/audit.hpp"
#include "common/block.hpp"
#include "common/merkle.hpp"
#include "common/record.hpp"

namespace mhr {

// A user registers at a record node: from then on the node holds the user's
// records. Signed by the registering node.
struct Registration {
  UserId user;
  NetworkId network;
  NodeId node;
  PublicKey node_key;
  TimeUs time_us = 0;
  Signature signature;
  bool operator==(const Registration&) const = default;
};

template <>
struct Codec<Registration> {
  static void write(Writer& w, const Registration& v);
  static Registration read(Reader& r);
};

Bytes registration_signing_bytes(const Registration& reg);
void sign_registration(Registration& reg, const Signer& node_key);
bool verify_registration_signature(const Registration& reg, const Verifier& verifier);

// What a record node asks its consensus node to order besides records.
using Transaction = std::variant<Registration, AuditAnchor>;
using Entry = std::variant<Record, Registration, AuditAnchor>;

template <>
struct Codec<Entry> {
  static void write(Writer& w, const Entry& v);
  static Entry read(Reader& r);
};

// The Merkle leaf of an entry: record_hash for records, SHA-256 of the
// tagged encoding for transactions.
Hash entry_hash(const Entry& e);
Entry as_entry(const Transaction& tx);

struct ProvenEntry {
  Entry entry;
  MerkleProof proof;
  bool operator==(const ProvenEntry&) const = default;
};

template <>
struct Codec<ProvenEntry> {
  static void write(Writer& w, const ProvenEntry& v);
  static ProvenEntry read(Reader& r);
};

// A block as its consensus node keeps it: header and every entry.
struct Block {
  SignedHeader header;
  std::vector<Entry> entries;
};

// Limits that bound a block and so every message carrying its entries.
inline constexpr std::size_t kMaxBlockEntries = 10'000;
static_assert((std::size_t{1} << kInlineMerkleProofDepth) >= kMaxBlockEntries,
              "a block's proofs no longer fit inline");

// Why the entry with hash `leaf` is not proven by `proof` into the block
// `header` commits to, or nullopt. Callers that hash the entry anyway pass
// the hash: entries are hashed once on the receiving path.
std::optional<std::string> inclusion_error(const Hash& leaf, const MerkleProof& proof,
                                           const BlockHeader& header);
inline std::optional<std::string> inclusion_error(const ProvenEntry& pe,
                                                  const BlockHeader& header) {
  return inclusion_error(entry_hash(pe.entry), pe.proof, header);
}

}  // namespace mhr
