// GrowableBytes: a byte buffer that grows at its end without zeroing what it
// adds (its caller writes those bytes at once), inline up to N bytes. A
// write batch appends every key and value to one: zeroing each before
// copying it in was a good share of the simulator's index nodes' time.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>

namespace mhr {

template <std::size_t N>
class GrowableBytes {
 public:
  GrowableBytes() {}  // the inline bytes stay unset: nothing reads past size()
  GrowableBytes(const GrowableBytes& o) : GrowableBytes() { append(o); }
  GrowableBytes& operator=(const GrowableBytes& o) {
    if (this != &o) {
      size_ = 0;
      append(o);
    }
    return *this;
  }
  GrowableBytes(GrowableBytes&& o) noexcept : GrowableBytes() { take(o); }
  GrowableBytes& operator=(GrowableBytes&& o) noexcept {
    if (this != &o) {
      heap_.reset();
      capacity_ = N;
      take(o);
    }
    return *this;
  }

  std::uint8_t* data() { return heap_ ? heap_.get() : inline_.data(); }
  const std::uint8_t* data() const { return heap_ ? heap_.get() : inline_.data(); }
  std::size_t size() const { return size_; }
  void clear() { size_ = 0; }

  // Makes the buffer `n` bytes longer and returns where they start; they
  // are unset. The buffer may move.
  std::uint8_t* grow(std::size_t n) {
    if (n > capacity_ - size_) reallocate(std::max(capacity_ * 2, size_ + n));
    std::uint8_t* at = data() + size_;
    size_ += n;
    return at;
  }

 private:
  void reallocate(std::size_t capacity) {
    auto bigger = std::make_unique_for_overwrite<std::uint8_t[]>(capacity);
    if (size_ != 0) std::memcpy(bigger.get(), data(), size_);
    heap_ = std::move(bigger);
    capacity_ = capacity;
  }
  void append(const GrowableBytes& o) {
    if (o.size_ != 0) std::memcpy(grow(o.size_), o.data(), o.size_);
  }
  void take(GrowableBytes& o) {
    if (o.heap_) {
      heap_ = std::move(o.heap_);
      capacity_ = o.capacity_;
    } else if (o.size_ != 0) {
      std::memcpy(inline_.data(), o.inline_.data(), o.size_);
    }
    size_ = o.size_;
    o.size_ = 0;
    o.capacity_ = N;
  }

  std::array<std::uint8_t, N> inline_;
  std::unique_ptr<std::uint8_t[]> heap_;
  std::size_t size_ = 0;
  std::size_t capacity_ = N;
};

}  // namespace mhr
