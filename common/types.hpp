// Vocabulary types of MHR chain: identifiers, hashes, byte buffers, time.
// Every other module speaks in these.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mhr {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Microseconds since the Unix epoch (real runtime) or since the start of a
// simulation. Signed so that differences are plain subtraction.
using TimeUs = std::int64_t;
inline constexpr TimeUs kUsPerMs = 1000;
inline constexpr TimeUs kUsPerSecond = 1000 * 1000;

std::string to_hex(ByteView bytes);
// Parses lower- or upper-case hex; nullopt on odd length or a non-hex digit.
std::optional<Bytes> from_hex(std::string_view hex);

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// N opaque bytes with value semantics, ordering and hex in and out.
template <std::size_t N>
struct FixedBytes {
  static constexpr std::size_t kSize = N;
  std::array<std::uint8_t, N> bytes{};

  static FixedBytes from_view(ByteView v) {
    FixedBytes out;
    if (v.size() == N) std::memcpy(out.bytes.data(), v.data(), N);
    return out;
  }
  static std::optional<FixedBytes> parse_hex(std::string_view hex) {
    auto raw = from_hex(hex);
    if (!raw || raw->size() != N) return std::nullopt;
    return from_view(*raw);
  }
  std::string hex() const { return to_hex(view()); }
  // First 8 hex digits: enough to name a thing in a log line.
  std::string short_hex() const { return hex().substr(0, 8); }
  ByteView view() const { return {bytes.data(), N}; }
  bool is_zero() const {
    for (auto b : bytes)
      if (b != 0) return false;
    return true;
  }
  // Ordered bytewise. Digests differ in their first bytes almost always, so
  // comparing the first eight as one big-endian word settles most cases
  // without a call to memcmp (maps keyed by hashes are on hot paths).
  std::strong_ordering operator<=>(const FixedBytes& o) const {
    if constexpr (N >= 8) {
      std::uint64_t a, b;
      std::memcpy(&a, bytes.data(), 8);
      std::memcpy(&b, o.bytes.data(), 8);
      if (a != b) return __builtin_bswap64(a) <=> __builtin_bswap64(b);
    }
    int c = std::memcmp(bytes.data(), o.bytes.data(), N);
    return c < 0   ? std::strong_ordering::less
           : c > 0 ? std::strong_ordering::greater
                   : std::strong_ordering::equal;
  }
  bool operator==(const FixedBytes& o) const {
    return std::memcmp(bytes.data(), o.bytes.data(), N) == 0;
  }
};

// SHA-256 digest of something (record, header, Merkle node, blob).
struct Hash : FixedBytes<32> {
  static Hash from_view(ByteView v) { return Hash{FixedBytes<32>::from_view(v)}; }
  static std::optional<Hash> parse_hex(std::string_view h) {
    auto f = FixedBytes<32>::parse_hex(h);
    if (!f) return std::nullopt;
    return Hash{*f};
  }
};

// A patient: the SHA-256 of the patient's Ed25519 public key.
struct UserId : FixedBytes<32> {
  static UserId from_view(ByteView v) { return UserId{FixedBytes<32>::from_view(v)}; }
  static std::optional<UserId> parse_hex(std::string_view h) {
    auto f = FixedBytes<32>::parse_hex(h);
    if (!f) return std::nullopt;
    return UserId{*f};
  }
};

// Ed25519 public key and signature.
struct PublicKey : FixedBytes<32> {
  static PublicKey from_view(ByteView v) { return PublicKey{FixedBytes<32>::from_view(v)}; }
};
struct Signature : FixedBytes<64> {
  static Signature from_view(ByteView v) { return Signature{FixedBytes<64>::from_view(v)}; }
};

// A node of the whole system (record, consensus or index node). Numeric so
// that tables of thousands of nodes stay small; names live in configuration.
struct NodeId {
  std::uint32_t value = 0;
  auto operator<=>(const NodeId&) const = default;
};
// An edge chain network; the index network is kIndexNetwork.
struct NetworkId {
  std::uint32_t value = 0;
  auto operator<=>(const NetworkId&) const = default;
};
inline constexpr NetworkId kIndexNetwork{0xFFFFFFFFu};

std::string to_string(NodeId id);
std::string to_string(NetworkId id);

// An immutable byte buffer shared by reference: payloads travel through the
// simulator and the runtime without being copied.
class SharedBytes {
 public:
  SharedBytes() = default;
  // Keeps b's own buffer.
  explicit SharedBytes(Bytes b) {
    if (b.empty()) return;
    auto owned = std::make_shared<const Bytes>(std::move(b));
    view_ = ByteView(*owned);
    owner_ = std::move(owned);
  }
  // A copy of v, in one allocation with its reference count.
  SharedBytes(ByteView v) {
    if (v.empty()) return;
    auto owned = std::make_shared_for_overwrite<std::uint8_t[]>(v.size());
    std::copy(v.begin(), v.end(), owned.get());
    view_ = ByteView(owned.get(), v.size());
    owner_ = std::move(owned);
  }
  // Bytes inside memory that `owner` keeps alive (a received frame, say):
  // no copy at all.
  SharedBytes(std::shared_ptr<const void> owner, ByteView v)
      : owner_(v.empty() ? nullptr : std::move(owner)), view_(v) {}
  // The same bytes in a buffer of their own rather than inside their
  // owner's memory: for what is kept long, which must not keep a whole
  // received frame alive.
  SharedBytes detached() const { return SharedBytes(view_); }
  ByteView view() const { return view_; }
  // What keeps the bytes alive (null when empty): while it lives, the
  // memory at view().data() holds these bytes and no others.
  const std::shared_ptr<const void>& owner() const { return owner_; }
  std::size_t size() const { return view_.size(); }
  bool empty() const { return view_.empty(); }
  bool operator==(const SharedBytes& o) const {
    return view_.size() == o.view_.size() &&
           std::equal(view_.begin(), view_.end(), o.view_.begin());
  }

 private:
  std::shared_ptr<const void> owner_;
  ByteView view_;
};

}  // namespace mhr

template <std::size_t N>
struct std::hash<mhr::FixedBytes<N>> {
  std::size_t operator()(const mhr::FixedBytes<N>& f) const noexcept {
    std::size_t h;  // digests are uniformly random already
    std::memcpy(&h, f.bytes.data(), sizeof h);
    return h;
  }
};
template <>
struct std::hash<mhr::Hash> : std::hash<mhr::FixedBytes<32>> {};
template <>
struct std::hash<mhr::UserId> : std::hash<mhr::FixedBytes<32>> {};
template <>
struct std::hash<mhr::PublicKey> : std::hash<mhr::FixedBytes<32>> {};
template <>
struct std::hash<mhr::NodeId> {
  std::size_t operator()(mhr::NodeId n) const noexcept {
    return std::hash<std::uint32_t>{}(n.value);
  }
};
template <>
struct std::hash<mhr::NetworkId> {
  std::size_t operator()(mhr::NetworkId n) const noexcept {
    return std::hash<std::uint32_t>{}(n.value);
  }
};
