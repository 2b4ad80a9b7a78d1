// StoreKey: a table key built on the stack. Keys are a tag and a few ids, a
// few dozen bytes at most, and one is built for nearly every lookup and
// write: a heap buffer for each was a good share of a node's allocations.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "common/assert.hpp"
#include "common/types.hpp"

namespace mhr {

class StoreKey {
 public:
  static constexpr std::size_t kMaxBytes = 120;

  StoreKey() = default;
  explicit StoreKey(ByteView v) { append(v); }

  StoreKey& u8(std::uint8_t v) {
    MHR_ASSERT_MSG(size_ < kMaxBytes, "store key too long");
    bytes_[size_++] = v;
    return *this;
  }
  StoreKey& append(ByteView v) {
    MHR_ASSERT_MSG(v.size() <= kMaxBytes - size_, "store key too long");
    for (std::uint8_t b : v) bytes_[size_++] = b;
    return *this;
  }
  StoreKey& be32(std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) u8(static_cast<std::uint8_t>(v >> shift));
    return *this;
  }
  StoreKey& be64(std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) u8(static_cast<std::uint8_t>(v >> shift));
    return *this;
  }

  ByteView view() const { return ByteView(bytes_.data(), size_); }
  operator ByteView() const { return view(); }  // NOLINT: a key is its bytes
  operator Bytes() const { return Bytes(bytes_.begin(), bytes_.begin() + size_); }  // NOLINT
  std::size_t size() const { return size_; }
  const std::uint8_t* data() const { return bytes_.data(); }
  const std::uint8_t* begin() const { return bytes_.data(); }
  const std::uint8_t* end() const { return bytes_.data() + size_; }

  friend bool operator==(const StoreKey& a, ByteView b) {
    return a.size_ == b.size() && std::equal(b.begin(), b.end(), a.bytes_.begin());
  }
  friend bool operator==(const StoreKey& a, const Bytes& b) { return a == ByteView(b); }
  friend bool operator==(const StoreKey& a, const StoreKey& b) { return a == b.view(); }

 private:
  std::array<std::uint8_t, kMaxBytes> bytes_;
  std::size_t size_ = 0;
};

}  // namespace mhr
