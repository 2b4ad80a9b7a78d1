// A page of a user's chain in a consensus node's own network, read back
// from the block bodies the node keeps: every record it ordered, with its
// header and Merkle proof. The authoritative answer for that chain.
#pragma once

#include <optional>

#include "common/chain_store.hpp"
#include "common/messages.hpp"

namespace mhr {

// Records of (user, network) from `from_sequence` up to `tip`, at most
// kMaxHistoryRecords of them (and about kMaxPageBytes); `last` when the
// page reaches the tip. request_id and route are left to the caller.
HistoryBatch own_chain_page(const ChainStore& chain, NetworkId network, const UserId& user,
                            std::uint64_t from_sequence, const std::optional<ChainTip>& tip);

}  // namespace mhr
