// libFuzzer target: every decoder of bytes that arrive from the network or
// are read back from a store. The first input byte picks the decoder, the
// rest is its input. A decoder must fail cleanly or return a value whose
// encoding is exactly the input (encodings are canonical); a message's
// counted size must be its encoded size.
#include <cstddef>
#include <cstdint>

#include "common/chain_store.hpp"
#include "common/client_codec.hpp"
#include "common/message_bundle.hpp"
#include "common/messages.hpp"
#include "consensus_node/block_body.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace mhr;

namespace {

template <class T>
void round_trip(ByteView in) {
  auto v = decode<T>(in);
  if (!v.ok()) {
    FUZZ_CHECK(!describe(v.error()).empty());
    return;
  }
  const Bytes again = encode(v.value());
  FUZZ_CHECK(again == Bytes(in.begin(), in.end()));
  if constexpr (std::is_same_v<T, Message>) {
    FUZZ_CHECK(encoded_size(v.value()) == in.size());
    FUZZ_CHECK(!message_type_name(v.value()).empty());
  }
}

void block_body(ByteView in) {
  auto v = decode_block_body(in);
  if (!v.ok()) return;
  std::vector<PlacedEntry> entries = std::move(v).value();
  for (const PlacedEntry& p : entries) FUZZ_CHECK(p.hash == entry_hash(p.entry));
  FUZZ_CHECK(encode_block_body(entries) == Bytes(in.begin(), in.end()));
}

void bundle(ByteView in) {
  auto v = decode_bundle(in);
  if (!v.ok()) return;
  FUZZ_CHECK(!v.value().empty() && v.value().size() <= kMaxBundleMessages);
  BundleWriter w(in.size());
  for (const Message& m : v.value()) w.add(encode(m));
  FUZZ_CHECK(w.take() == Bytes(in.begin(), in.end()));
}

void index_body(ByteView in) {
  auto v = decode_index_body(in);
  if (!v.ok()) return;
  FUZZ_CHECK(v.value().size() <= kMaxIndexBlockTxs);
  FUZZ_CHECK(encode_index_body(v.value()) == Bytes(in.begin(), in.end()));
}

using Decoder = void (*)(ByteView);
constexpr Decoder kDecoders[] = {
    round_trip<Message>,
    round_trip<ClientRequestFrame>,
    round_trip<ClientReplyFrame>,
    round_trip<Record>,
    round_trip<SignedHeader>,
    round_trip<BlockHeader>,
    round_trip<Entry>,
    round_trip<ProvenEntry>,
    round_trip<MerkleProof>,
    round_trip<RecordPlace>,
    round_trip<Registration>,
    round_trip<OffChainRef>,
    block_body,
    bundle,
    index_body,
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  kDecoders[data[0] % std::size(kDecoders)](ByteView(data + 1, size - 1));
  return 0;
}
