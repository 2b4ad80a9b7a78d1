// A health record: one event on a patient's timeline (a visit, diagnosis,
// prescription, lab result, bill, insurance datum). Records are signed by
// their author and hash-chained per user, so a timeline is a chain of its own.
//
// Each edge network sequences the records it writes for a user: the chain
// key is (user, network). A user registered in several networks thus has one
// chain per writing network, each ordered by one consensus group, and never
// needs a lock across networks (docs/PROTOCOL.md).
#pragma once

#include <optional>
#include <string>

#include "common/codec.hpp"
#include "common/crypto.hpp"
#include "common/types.hpp"

namespace mhr {

enum class Category : std::uint8_t {
  kMedical = 0,
  kBilling = 1,
  kInsurance = 2,
  kAdministrative = 3,
};
inline constexpr std::uint8_t kCategoryCount = 4;
std::string_view category_name(Category c);
std::optional<Category> parse_category(std::string_view name);

// Limits on what a record may carry; larger objects go off-chain.
inline constexpr std::size_t kMaxInlinePayloadBytes = 1 << 20;
inline constexpr std::size_t kMaxContentTypeBytes = 64;

// A large object kept outside the chain: the record commits to it by hash.
struct OffChainRef {
  Hash hash;
  std::uint64_t size_bytes = 0;
  bool operator==(const OffChainRef&) const = default;
};

struct Record {
  UserId user;
  NetworkId network;  // the edge network that orders this record
  NodeId author_node;
  PublicKey author_key;
  std::uint64_t sequence = 0;  // in the (user, network) chain; 0 first
  Hash prev_hash;              // zero for sequence 0
  TimeUs created_at_us = 0;
  std::string content_type;  // e.g. a FHIR resource type
  Category category = Category::kMedical;
  SharedBytes payload;  // empty when off_chain is set, or once erased
  // Set once a holder erased the payload (patient-requested erasure of key
  // material): its SHA-256, which is what the signature and the record's
  // hash commit to, so everything still verifies without the bytes.
  std::optional<Hash> erased_payload;
  std::optional<OffChainRef> off_chain;
  std::optional<Hash> supersedes;  // corrections add, never replace
  Signature signature;

  bool operator==(const Record&) const = default;
};

// The bytes the author signs: the encoding without the signature, behind a
// domain tag so a record signature can never be taken for another kind.
Bytes record_signing_bytes(const Record& r);

template <>
struct Codec<OffChainRef> {
  static void write(Writer& w, const OffChainRef& v);
  static OffChainRef read(Reader& r);
};
template <>
struct Codec<Record> {
  static void write(Writer& w, const Record& v);
  static Record read(Reader& r);
};

// The record's identity (its Merkle leaf): SHA-256 over the signed fields,
// with the payload by its SHA-256, and the signature. Erasing the payload
// does not change it.
Hash record_hash(const Record& r);
// The SHA-256 of the inline payload (kept when it was erased).
Hash payload_digest(const Record& r);
// The record without its payload bytes: same hash, same signature.
Record with_payload_erased(const Record& r);
// A copy whose payload is its own (SharedBytes::detached): a record decoded
// from a frame borrows it, and one held for long must not pin the frame.
Record detached(const Record& r);

void sign_record(Record& r, const Signer& author);
bool verify_record_signature(const Record& r, const Verifier& verifier = ed25519_verifier());

// The newest record of a user's timeline as a holder knows it.
struct ChainTip {
  std::uint64_t sequence = 0;
  Hash hash;
  bool operator==(const ChainTip&) const = default;
};

// Why `r` does not extend a user's chain whose tip is `tip` (nullopt: the
// user has no record yet), or nullopt when it does.
std::optional<std::string> chain_continuity_error(const Record& r,
                                                  const std::optional<ChainTip>& tip);

}  // namespace mhr
