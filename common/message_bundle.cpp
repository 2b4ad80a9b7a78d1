#include "common/message_bundle.hpp"

#include "common/assert.hpp"

namespace mhr {
namespace {

std::size_t varint_size(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

}  // namespace

std::size_t BundleWriter::single_size(std::size_t encoded_bytes) {
  return varint_size(encoded_bytes) + encoded_bytes;
}

bool BundleWriter::fits(std::size_t encoded_bytes) const {
  return count_ < kMaxBundleMessages && out_.size() + single_size(encoded_bytes) <= max_bytes_;
}

void BundleWriter::add(ByteView encoded_message) {
  MHR_ASSERT(fits(encoded_message.size()));
  out_.bytes(encoded_message);
  ++count_;
}

Bytes BundleWriter::take() {
  MHR_ASSERT(count_ > 0);
  count_ = 0;
  return std::exchange(out_, Writer()).take();
}

void write_bundle(std::span<std::uint8_t> dst, std::span<const MessagePtr> messages,
                  std::span<const std::size_t> encoded_sizes) {
  MHR_ASSERT(!messages.empty() && messages.size() <= kMaxBundleMessages);
  MHR_ASSERT(messages.size() == encoded_sizes.size());
  Writer w = Writer::into(dst);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const std::size_t start = w.size();
    w.varint(encoded_sizes[i]);
    write_versioned(w, *messages[i]);
    MHR_ASSERT_MSG(w.size() - start == BundleWriter::single_size(encoded_sizes[i]),
                   "a message is not the size it was counted to be");
  }
  MHR_ASSERT_MSG(w.size() == dst.size(), "a bundle does not fill its frame");
}

std::optional<DecodeError> decode_bundle_into(ByteView frame,
                                              const std::shared_ptr<const void>& owner,
                                              std::vector<Message>& out) {
  out.clear();
  if (frame.empty()) return DecodeError::kTruncated;
  Reader r(frame);
  while (r.ok() && r.remaining() > 0) {
    if (out.size() == kMaxBundleMessages) return DecodeError::kOversize;
    const ByteView one = r.bytes(frame.size());
    if (!r.ok()) break;
    auto m = decode<Message>(one, owner);
    if (!m) return m.error();
    out.push_back(std::move(m).value());
  }
  return r.finish_error();
}

Decoded<std::vector<Message>> decode_bundle(ByteView frame, std::shared_ptr<const void> owner) {
  std::vector<Message> out;
  if (auto e = decode_bundle_into(frame, owner, out)) return err(*e);
  return out;
}

}  // namespace mhr
