// The audit chain of a record node: every read, refusal, grant, revocation,
// key share and erasure it handles, appended as a hash chain. The node
// anchors the chain's head in its network's blocks (AuditAnchor), so
// removing or editing an entry breaks either the chain or an anchor.
#pragma once

#include <optional>
#include <string>

#include "common/codec.hpp"
#include "common/crypto.hpp"
#include "common/types.hpp"

namespace mhr {

enum class AuditAction : std::uint8_t {
  kRead = 0,     // records served
  kRefused,      // a request refused: who asked, why
  kGrant,        // a consent grant accepted for ordering
  kRevoke,       // a revocation accepted for ordering
  kKeyShare,     // the data key shared with an institution
  kErase,        // an erasure accepted for ordering
  kEraseApplied  // this node destroyed the user's wrapped keys
};
inline constexpr std::uint8_t kAuditActionCount = 7;
std::string_view audit_action_name(AuditAction a);

inline constexpr std::size_t kMaxAuditDetailBytes = 256;

struct AuditEntry {
  std::uint64_t sequence = 0;  // 0 first
  Hash prev_hash;              // zero for sequence 0
  TimeUs time_us = 0;
  PublicKey actor;  // who asked
  UserId user;      // whose records
  AuditAction action = AuditAction::kRead;
  std::uint32_t records = 0;  // how many were served
  std::string detail;
  bool operator==(const AuditEntry&) const = default;
};

template <>
struct Codec<AuditEntry> {
  static void write(Writer& w, const AuditEntry& v);
  static AuditEntry read(Reader& r);
};
Hash audit_entry_hash(const AuditEntry& e);

// A record node commits to its audit chain up to `sequence`, whose entry
// hash is `head`. Ordered like a registration, signed by the node.
struct AuditAnchor {
  NodeId node;
  NetworkId network;
  std::uint64_t sequence = 0;
  Hash head;
  TimeUs time_us = 0;
  PublicKey node_key;
  Signature signature;
  bool operator==(const AuditAnchor&) const = default;
};

template <>
struct Codec<AuditAnchor> {
  static void write(Writer& w, const AuditAnchor& v);
  static AuditAnchor read(Reader& r);
};
Bytes anchor_signing_bytes(const AuditAnchor& a);
void sign_anchor(AuditAnchor& a, const Signer& node_key);
bool verify_anchor_signature(const AuditAnchor& a, const Verifier& verifier);

}  // namespace mhr
