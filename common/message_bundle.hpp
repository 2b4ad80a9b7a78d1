// MessageBundle: how node messages travel between two nodes. The messages
// one node sends another in one runtime turn go as one frame, each encoded
// message length-prefixed after the other, so a turn costs one ZeroMQ
// send, one CURVE box and one replay nonce per peer however many messages
// it holds. A bundle decodes whole or not at all.
#pragma once

#include <span>
#include <vector>

#include "common/messages.hpp"

namespace mhr {

inline constexpr std::size_t kMaxBundleMessages = 1024;

// Builds bundles no larger than `max_bytes` (a frame limit).
class BundleWriter {
 public:
  explicit BundleWriter(std::size_t max_bytes) : max_bytes_(max_bytes) {}
  // Whether a message of `encoded_bytes` fits after those already added.
  bool fits(std::size_t encoded_bytes) const;
  void add(ByteView encoded_message);
  std::size_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // The bundle so far; the writer starts a new one.
  Bytes take();
  // The size of a bundle of one message of `encoded_bytes`.
  static std::size_t single_size(std::size_t encoded_bytes);

 private:
  std::size_t max_bytes_;
  Writer out_;
  std::size_t count_ = 0;
};

// Writes `messages` as one bundle straight into `dst` (a frame allocated for
// it), given each one's encoded size (encoded_size()): `dst` must be exactly
// the sum of their single_size()s. No buffer in between.
void write_bundle(std::span<std::uint8_t> dst, std::span<const MessagePtr> messages,
                  std::span<const std::size_t> encoded_sizes);

// The messages of a bundle in order; an error if any of them is malformed,
// the bundle is empty, or it holds more than kMaxBundleMessages.
// With an owner, their payloads borrow the frame from it.
Decoded<std::vector<Message>> decode_bundle(ByteView frame,
                                            std::shared_ptr<const void> owner = nullptr);
// The same into `out` (cleared first; its capacity kept from frame to
// frame): the error, if any, and then `out` holds nothing to use.
std::optional<DecodeError> decode_bundle_into(ByteView frame,
                                              const std::shared_ptr<const void>& owner,
                                              std::vector<Message>& out);

}  // namespace mhr
