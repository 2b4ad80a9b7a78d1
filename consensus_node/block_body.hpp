// How a consensus node keeps the body of a block it ordered: each entry
// with the node that asked for it and the nodes it went to. Read back for
// catch-up deliveries, restarts and the offline checkers.
#pragma once

#include <absl/container/inlined_vector.h>

#include <optional>
#include <string>
#include <vector>

#include "common/block.hpp"
#include "common/codec.hpp"
#include "common/entry.hpp"

namespace mhr {

// The nodes a record goes to: its user's record nodes here and perhaps the
// index node, a handful, so kept inline (no allocation per record).
using Holders = absl::InlinedVector<NodeId, 4>;

struct PlacedEntry {
  Entry entry;
  Hash hash;  // entry_hash(entry); not stored
  NodeId origin;
  Holders holders;  // sorted
};

Bytes encode_block_body(const std::vector<PlacedEntry>& entries);
// What BlockHeader::placement_hash commits to: each entry's hash, origin and
// holders, in block order.
Hash placement_hash(const std::vector<PlacedEntry>& entries);
// Why a body is not the one `header` commits to (count, Merkle root,
// placement), or nullopt.
std::optional<std::string> body_mismatch(const BlockHeader& header,
                                         const std::vector<PlacedEntry>& entries);
Decoded<std::vector<PlacedEntry>> decode_block_body(ByteView in);

}  // namespace mhr
