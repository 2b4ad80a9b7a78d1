// The input layouts of the verification fuzz target, shared with the corpus
// generator that writes valid ones.
#pragma once

#include <optional>
#include <vector>

#include "common/entry.hpp"
#include "common/signer.hpp"

namespace mhr::fuzz {

inline constexpr std::uint8_t kVerifyCaseTag = 'v';
inline constexpr std::uint8_t kLeavesCaseTag = 't';
inline constexpr std::size_t kMaxFuzzLeaves = 64;

// 'v', crypto mode (0 real, 1 modeled), the signed header, the proven
// entry, 0/1 and the previous header.
struct VerifyCase {
  CryptoMode mode = CryptoMode::kReal;
  SignedHeader header;
  ProvenEntry entry;
  std::optional<BlockHeader> prev;
};
Bytes encode_verify_case(const VerifyCase& c);
std::optional<VerifyCase> decode_verify_case(ByteView in);

// 't', then up to kMaxFuzzLeaves 32-byte leaves (a trailing partial one is
// ignored).
std::optional<std::vector<Hash>> decode_leaves_case(ByteView in);

}  // namespace mhr::fuzz
