// Where a record node keeps its audit chain (the kAudit table): entries by
// sequence, an index by user, and the anchors that committed the chain's
// head into blocks, with their Merkle proofs. audit_chain_error checks all
// of it offline (mhr verify).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/audit.hpp"
#include "common/chain_store.hpp"
#include "common/topology.hpp"

namespace mhr {

inline constexpr std::size_t kMaxAuditEntriesPerReply = 10'000;

class AuditLog {
 public:
  explicit AuditLog(const Store& store) : store_(store) { load(); }
  // Reads the head and the last anchor back from the store (after a restart).
  void load();

  // Chains `e` (its sequence and previous hash are set here) and puts it in
  // the batch; the batch must be written before anything is answered.
  AuditEntry append(WriteBatch& batch, AuditEntry e);

  // The newest entry's sequence and hash.
  std::optional<std::pair<std::uint64_t, Hash>> head() const { return head_; }
  std::optional<std::uint64_t> last_anchored() const { return last_anchored_; }

  // The user's newest entries, oldest first, at most `max`.
  std::vector<AuditEntry> for_user(const UserId& user, std::size_t max) const;

  void put_anchor(WriteBatch& batch, const AuditAnchor& anchor, std::uint64_t height,
                  const MerkleProof& proof);

 private:
  const Store& store_;
  std::optional<std::pair<std::uint64_t, Hash>> head_;
  std::optional<std::uint64_t> last_anchored_;
};

// Why the audit chain in `store` is broken, or nullopt when intact (or
// absent). With a topology, anchors are checked against their headers and
// the node's key.
std::optional<std::string> audit_chain_error(const Store& store, const Topology* topology,
                                             const Verifier& verifier);

}  // namespace mhr
