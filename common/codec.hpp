// Compact, versioned binary encoding. Writer appends; Reader decodes with
// every read bounds-checked and a sticky typed error, so decoding code reads
// straight through and checks once at the end.
//
// Encodings are canonical (minimal varints, 0/1 booleans, known enum values,
// no trailing bytes), so encode(decode(b)) == b and signatures can be made
// over encoded bytes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/assert.hpp"
#include "common/result.hpp"
#include "common/types.hpp"

namespace mhr {

// Version byte that starts every top-level encoding.
inline constexpr std::uint8_t kCodecVersion = 1;

enum class DecodeError : std::uint8_t {
  kTruncated = 1,   // input ends inside a value
  kOversize,        // a length or count above its limit
  kTrailingBytes,   // bytes left after a complete value
  kUnknownVersion,  // version byte we do not speak
  kUnknownType,     // message or enum tag we do not know
  kNonCanonical,    // a value encoded in a non-minimal way
  kInvalidValue,    // well-formed but out of its domain
};
std::string_view describe(DecodeError e);

template <class T>
using Decoded = Result<T, DecodeError>;

// Appends encodings to a byte buffer. A counting writer (Writer::counting())
// keeps no bytes: every write only adds to size(), so the exact size of an
// encoding is known without allocating or copying payloads.
class Writer {
 public:
  Writer() = default;
  explicit Writer(std::size_t reserve_bytes) { out_.reserve(reserve_bytes); }
  static Writer counting() {
    Writer w;
    w.counting_ = true;
    return w;
  }

  void u8(std::uint8_t v) {
    if (counting_) [[unlikely]] {
      ++count_;
      return;
    }
    out_.push_back(v);
  }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void varint(std::uint64_t v);
  void fixed(ByteView raw) {
    if (counting_) [[unlikely]] {
      count_ += raw.size();
      return;
    }
    out_.insert(out_.end(), raw.begin(), raw.end());
  }
  template <std::size_t N>
  void fixed(const FixedBytes<N>& f) {
    fixed(f.view());
  }
  void bytes(ByteView raw) {  // length-prefixed
    varint(raw.size());
    fixed(raw);
  }
  void str(std::string_view s) { bytes(as_bytes(s)); }

  // Bytes written so far (counted ones for a counting writer).
  std::size_t size() const { return counting_ ? count_ : out_.size(); }
  bool is_counting() const { return counting_; }
  // The encoding; always empty for a counting writer.
  const Bytes& data() const { return out_; }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
  std::size_t count_ = 0;  // only used when counting_
  bool counting_ = false;
};

class Reader {
 public:
  explicit Reader(ByteView in) : in_(in) {}

  std::uint8_t u8();
  bool boolean();
  std::uint64_t varint();
  // A varint that must be <= max (kOversize otherwise).
  std::uint64_t varint_max(std::uint64_t max);
  std::uint32_t u32() { return static_cast<std::uint32_t>(varint_max(UINT32_MAX)); }
  std::int64_t time_us() { return static_cast<std::int64_t>(varint_max(INT64_MAX)); }
  // A view of n raw bytes inside the input (valid while the input lives).
  ByteView fixed(std::size_t n);
  template <class F>
  F fixed_as() {
    F out{};
    auto v = fixed(F::kSize);
    if (ok()) std::copy(v.begin(), v.end(), out.bytes.begin());
    return out;
  }
  ByteView bytes(std::size_t max_len);
  std::string str(std::size_t max_len);
  // A count of following items, each at least min_item_bytes long: rejects
  // counts the remaining input cannot hold before anything is allocated.
  std::size_t count(std::size_t max_count, std::size_t min_item_bytes = 1);

  // Reads the version byte; kUnknownVersion unless it is kCodecVersion.
  void version();
  void fail(DecodeError e) {
    if (!error_) error_ = e;
  }
  bool ok() const { return !error_; }
  std::size_t remaining() const { return in_.size() - pos_; }
  std::size_t position() const { return pos_; }
  // The error so far, or kTrailingBytes if input is left over.
  std::optional<DecodeError> finish_error() const;

  // Finishes decoding: the value if no error and no trailing bytes.
  template <class T>
  Decoded<T> finish(T value) const {
    if (auto e = finish_error()) return err(*e);
    return value;
  }

 private:
  bool need(std::size_t n);
  ByteView in_;
  std::size_t pos_ = 0;
  std::optional<DecodeError> error_;
};

// Codec<T> is specialised for every encoded structure and message:
//   static void write(Writer&, const T&);  static T read(Reader&);
// Nested values are written without a version byte; top-level ones with.
template <class T>
struct Codec;

// What `write(Writer&)` writes, in a buffer allocated once at its exact
// size: a counting pass first, which copies nothing. A buffer grown by
// doubling instead was a handful of allocations and copies per record.
template <class F>
Bytes write_exact(F&& write) {
  Writer counter = Writer::counting();
  write(counter);
  Writer w(counter.size());
  write(w);
  MHR_ASSERT_MSG(w.size() == counter.size(), "a codec wrote what its counting pass did not");
  return w.take();
}

template <class T>
Bytes encode(const T& value) {
  return write_exact([&value](Writer& w) {
    w.u8(kCodecVersion);
    Codec<T>::write(w, value);
  });
}

template <class T>
Decoded<T> decode(ByteView in) {
  Reader r(in);
  r.version();
  T value = Codec<T>::read(r);
  return r.finish(std::move(value));
}

}  // namespace mhr
