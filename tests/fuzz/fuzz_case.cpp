#include "tests/fuzz/fuzz_case.hpp"

namespace mhr::fuzz {

Bytes encode_verify_case(const VerifyCase& c) {
  Writer w;
  w.u8(kVerifyCaseTag);
  w.u8(c.mode == CryptoMode::kReal ? 0 : 1);
  Codec<SignedHeader>::write(w, c.header);
  Codec<ProvenEntry>::write(w, c.entry);
  w.boolean(c.prev.has_value());
  if (c.prev) Codec<BlockHeader>::write(w, *c.prev);
  return w.take();
}

std::optional<VerifyCase> decode_verify_case(ByteView in) {
  Reader r(in);
  if (r.u8() != kVerifyCaseTag) return std::nullopt;
  VerifyCase c;
  const std::uint8_t mode = r.u8();
  if (mode > 1) return std::nullopt;
  c.mode = mode == 0 ? CryptoMode::kReal : CryptoMode::kModeled;
  c.header = Codec<SignedHeader>::read(r);
  c.entry = Codec<ProvenEntry>::read(r);
  if (r.boolean()) c.prev = Codec<BlockHeader>::read(r);
  if (r.finish_error()) return std::nullopt;
  return c;
}

std::optional<std::vector<Hash>> decode_leaves_case(ByteView in) {
  if (in.empty() || in[0] != kLeavesCaseTag) return std::nullopt;
  std::vector<Hash> leaves;
  for (std::size_t at = 1; at + Hash::kSize <= in.size() && leaves.size() < kMaxFuzzLeaves;
       at += Hash::kSize)
    leaves.push_back(Hash::from_view(in.subspan(at, Hash::kSize)));
  if (leaves.empty()) return std::nullopt;
  return leaves;
}

}  // namespace mhr::fuzz
