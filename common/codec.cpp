#include "common/codec.hpp"

#include <array>
#include <cstring>

namespace mhr {

std::string_view describe(DecodeError e) {
  switch (e) {
    case DecodeError::kTruncated:
      return "truncated input";
    case DecodeError::kOversize:
      return "length or count above its limit";
    case DecodeError::kTrailingBytes:
      return "trailing bytes after the value";
    case DecodeError::kUnknownVersion:
      return "unknown encoding version";
    case DecodeError::kUnknownType:
      return "unknown type tag";
    case DecodeError::kNonCanonical:
      return "non-canonical encoding";
    case DecodeError::kInvalidValue:
      return "invalid value";
  }
  return "unknown decode error";
}

void Writer::varint(std::uint64_t v) {
  std::array<std::uint8_t, 10> buf;  // a 64-bit value takes at most ten groups of 7 bits
  std::size_t n = 0;
  for (; v >= 0x80; v >>= 7) buf[n++] = static_cast<std::uint8_t>(v | 0x80);
  buf[n++] = static_cast<std::uint8_t>(v);
  fixed(ByteView(buf.data(), n));
}

void Writer::put_elsewhere(ByteView raw) {
  switch (mode_) {
    case Mode::kBuffer:
      break;
    case Mode::kCount:
      count_ += raw.size();
      return;
    case Mode::kSpan:
      MHR_ASSERT_MSG(raw.size() <= span_.size() - count_, "an encoding overruns its buffer");
      if (!raw.empty()) std::memcpy(span_.data() + count_, raw.data(), raw.size());
      count_ += raw.size();
      return;
    case Mode::kStream:
      sink_->put(raw);
      count_ += raw.size();
      return;
  }
  MHR_ASSERT_MSG(false, "a buffered writer has nowhere else to put bytes");
}

bool Reader::need(std::size_t n) {
  if (!ok()) return false;
  if (remaining() < n) {
    fail(DecodeError::kTruncated);
    return false;
  }
  return true;
}

std::uint8_t Reader::u8() {
  if (!need(1)) return 0;
  return in_[pos_++];
}

bool Reader::boolean() {
  std::uint8_t b = u8();
  if (b > 1) fail(DecodeError::kNonCanonical);
  return b == 1;
}

std::uint64_t Reader::varint() {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (!need(1)) return 0;
    std::uint8_t byte = in_[pos_++];
    std::uint64_t bits = byte & 0x7F;
    if (shift == 63 && bits > 1) {  // would overflow 64 bits
      fail(DecodeError::kInvalidValue);
      return 0;
    }
    value |= bits << shift;
    if ((byte & 0x80) == 0) {
      // A final zero group after the first byte means a shorter form existed.
      if (byte == 0 && shift > 0) fail(DecodeError::kNonCanonical);
      return ok() ? value : 0;
    }
  }
  fail(DecodeError::kInvalidValue);
  return 0;
}

std::uint64_t Reader::varint_max(std::uint64_t max) {
  std::uint64_t v = varint();
  if (ok() && v > max) {
    fail(DecodeError::kOversize);
    return 0;
  }
  return v;
}

ByteView Reader::fixed(std::size_t n) {
  if (!need(n)) return {};
  ByteView out = in_.subspan(pos_, n);
  pos_ += n;
  return out;
}

ByteView Reader::bytes(std::size_t max_len) {
  std::uint64_t len = varint_max(max_len);
  if (!ok()) return {};
  return fixed(static_cast<std::size_t>(len));
}

SharedBytes Reader::shared_bytes(std::size_t max_len) {
  const ByteView v = bytes(max_len);
  if (!ok()) return {};
  return owner_ ? SharedBytes(owner_, v) : SharedBytes(v);
}

std::string Reader::str(std::size_t max_len) {
  ByteView v = bytes(max_len);
  return std::string(v.begin(), v.end());
}

std::size_t Reader::count(std::size_t max_count, std::size_t min_item_bytes) {
  std::uint64_t n = varint_max(max_count);
  if (!ok()) return 0;
  if (min_item_bytes > 0 && n > remaining() / min_item_bytes) {
    fail(DecodeError::kTruncated);
    return 0;
  }
  return static_cast<std::size_t>(n);
}

void Reader::version() {
  std::uint8_t v = u8();
  if (ok() && v != kCodecVersion) fail(DecodeError::kUnknownVersion);
}

std::optional<DecodeError> Reader::finish_error() const {
  if (error_) return error_;
  if (remaining() != 0) return DecodeError::kTrailingBytes;
  return std::nullopt;
}

}  // namespace mhr
