// How the roles lay out the tables verify checks beyond records, headers and
// block bodies: the one-byte tags of the shared tables and what follows
// them. These mirror the role code (edge_node/record_node.cpp,
// consensus_node/, index_node/, common/outbox.cpp); the flow tests verify
// every store of a simulated run, so a layout change there that is not made
// here fails them.
#pragma once

#include <cstdint>

namespace mhr::layout {

// kUsers
inline constexpr std::uint8_t kRegisteredUser = 'r';  // record node: 'r' user -> ""
inline constexpr std::uint8_t kTip = 't';             // consensus: 't' user -> varint seq, hash
inline constexpr std::uint8_t kSharingRow = 's';      // consensus: 's' user -> remote, holders
inline constexpr std::uint8_t kNetworkRow = 'n';      // index: 'n' user -> networks
inline constexpr std::uint8_t kKeyAct = 'k';          // consensus: 'k' user, be64 height -> ""
inline constexpr std::uint8_t kErasedUser = 'x';      // consensus: 'x' user -> ""

// kPending
inline constexpr std::uint8_t kPendingRegistration = 'g';  // record: 'g' user -> Registration
inline constexpr std::uint8_t kPendingRecord = 's';        // record: 's' hash -> Record
inline constexpr std::uint8_t kPendingSync = 'h';          // record: 'h' user -> ""
inline constexpr std::uint8_t kParkedRecord = 'u';  // record: 'u' record key -> Record, place
inline constexpr std::uint8_t kOutgoingOwn = 'o';   // consensus: 'o' be64 height -> ""
inline constexpr std::uint8_t kForeign = 'f';       // consensus: 'f' header key, hash -> Message
inline constexpr std::uint8_t kOutbox = 'm';        // index: 'm' be32 to, hash -> Message
inline constexpr std::uint8_t kHandoff = 'd';    // index: 'd' be32 to, header key, hash -> hand-off
inline constexpr std::uint8_t kReplay = 'p';     // index: 'p' be32 network, user -> varint seq
inline constexpr std::uint8_t kAgreement = 'b';  // consensus: 'b' -> PBFT state
inline constexpr std::uint8_t kIndexAgreement = 'c';  // index: 'c' -> index chain PBFT state
inline constexpr std::uint8_t kIndexSubmit = 'i';     // index: 'i' tx hash -> IndexTx
inline constexpr std::uint8_t kAwaited = 'w';         // index: 'w' be64 height -> header, tx hashes

}  // namespace mhr::layout
