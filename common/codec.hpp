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
#include <memory>
#include <optional>
#include <span>
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

// Where a streaming writer's bytes go (a hash, say), in order, in pieces.
class ByteSink {
 public:
  virtual void put(ByteView bytes) = 0;

 protected:
  ~ByteSink() = default;
};

// Appends encodings to a byte buffer, or elsewhere:
//  * Writer::counting() keeps no bytes: every write only adds to size(), so
//    the exact size of an encoding is known without allocating or copying;
//  * Writer::into(span) writes into memory the caller owns (a ZeroMQ frame,
//    a reused scratch buffer), which must hold the whole encoding;
//  * Writer::streaming(sink) hands every write to a ByteSink, so a hash
//    over an encoding needs no buffer for it.
class Writer {
 public:
  Writer() = default;
  explicit Writer(std::size_t reserve_bytes) { out_.reserve(reserve_bytes); }
  static Writer counting() { return Writer(Mode::kCount); }
  static Writer into(std::span<std::uint8_t> dst) {
    Writer w(Mode::kSpan);
    w.span_ = dst;
    return w;
  }
  static Writer streaming(ByteSink& sink) {
    Writer w(Mode::kStream);
    w.sink_ = &sink;
    return w;
  }

  void u8(std::uint8_t v) {
    if (mode_ != Mode::kBuffer) [[unlikely]] {
      put_elsewhere(ByteView(&v, 1));
      return;
    }
    out_.push_back(v);
  }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void varint(std::uint64_t v);
  void fixed(ByteView raw) {
    if (mode_ != Mode::kBuffer) [[unlikely]] {
      put_elsewhere(raw);
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

  // Bytes written so far (counted, placed or streamed ones unless buffered).
  std::size_t size() const { return mode_ == Mode::kBuffer ? out_.size() : count_; }
  bool is_counting() const { return mode_ == Mode::kCount; }
  // The buffered encoding; always empty for the other kinds of writer.
  const Bytes& data() const { return out_; }
  Bytes take() { return std::move(out_); }

 private:
  enum class Mode : std::uint8_t { kBuffer, kCount, kSpan, kStream };
  explicit Writer(Mode mode) : mode_(mode) {}
  void put_elsewhere(ByteView raw);

  Bytes out_;
  std::size_t count_ = 0;  // bytes counted, placed or streamed (all but kBuffer)
  std::span<std::uint8_t> span_;
  ByteSink* sink_ = nullptr;
  Mode mode_ = Mode::kBuffer;
};

class Reader {
 public:
  explicit Reader(ByteView in) : in_(in) {}
  // A reader of memory that `owner` keeps alive (a received frame): the
  // payloads it reads with shared_bytes() are views into it, not copies.
  Reader(ByteView in, std::shared_ptr<const void> owner) : in_(in), owner_(std::move(owner)) {}

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
  // bytes() as a payload of its own: a view holding the input's owner if
  // the reader has one, else a copy.
  SharedBytes shared_bytes(std::size_t max_len);
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
  std::shared_ptr<const void> owner_;
};

// Codec<T> is specialised for every encoded structure and message:
//   static void write(Writer&, const T&);  static T read(Reader&);
// Nested values are written without a version byte; top-level ones with.
template <class T>
struct Codec;

// A top-level encoding: the version byte, then the value.
template <class T>
void write_versioned(Writer& w, const T& value) {
  w.u8(kCodecVersion);
  Codec<T>::write(w, value);
}

// How many bytes `write(Writer&)` writes: a counting pass, which copies
// nothing.
template <class F>
std::size_t size_of_writing(F&& write) {
  Writer counter = Writer::counting();
  write(counter);
  return counter.size();
}

// What `write(Writer&)` writes, in a buffer allocated once at its exact
// size. A buffer grown by doubling instead was a handful of allocations and
// copies per record.
template <class F>
Bytes write_exact(F&& write) {
  const std::size_t size = size_of_writing(write);
  Writer w(size);
  write(w);
  MHR_ASSERT_MSG(w.size() == size, "a codec wrote what its counting pass did not");
  return w.take();
}

// What `write(Writer&)` writes, into `scratch`, whose capacity is kept from
// call to call: once it has grown to the size, encoding allocates nothing.
// The view is valid until `scratch` changes.
template <class F>
ByteView write_into(Bytes& scratch, F&& write) {
  scratch.resize(size_of_writing(write));
  Writer w = Writer::into(scratch);
  write(w);
  MHR_ASSERT_MSG(w.size() == scratch.size(), "a codec wrote what its counting pass did not");
  return scratch;
}

// The top-level encoding of `value` into `dst`, which must be exactly
// encoded_size(value) bytes (a frame allocated for it).
template <class T>
void encode_into(std::span<std::uint8_t> dst, const T& value) {
  Writer w = Writer::into(dst);
  write_versioned(w, value);
  MHR_ASSERT_MSG(w.size() == dst.size(), "an encoding is not the size it was counted to be");
}

template <class T>
std::size_t encoded_size(const T& value) {
  Writer w = Writer::counting();
  write_versioned(w, value);
  return w.size();
}

template <class T>
Bytes encode(const T& value) {
  return write_exact([&value](Writer& w) { write_versioned(w, value); });
}

// With an owner, the value's payloads borrow `in` from it (Reader).
template <class T>
Decoded<T> decode(ByteView in, std::shared_ptr<const void> owner = nullptr) {
  Reader r(in, std::move(owner));
  r.version();
  T value = Codec<T>::read(r);
  return r.finish(std::move(value));
}

}  // namespace mhr
