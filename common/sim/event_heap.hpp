// The simulator's event queue: small POD events in a 4-ary min-heap ordered
// by (time, key), and SlotPool, where the events' payloads wait (an event
// names its payload by slot). No allocation per event once warm.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "common/types.hpp"

namespace mhr {

// `key` orders events of equal time: the creating lane's sequence number
// (bits 16 and up), the lane (bits 8-15) and a kind (bits 0-7). Within one
// lane, ties in time keep insertion order.
struct SimEvent {
  TimeUs time;
  std::uint64_t key;
  std::uint32_t node;
  std::uint32_t slot;

  std::uint8_t kind_byte() const { return static_cast<std::uint8_t>(key & 0xFF); }
};
static_assert(sizeof(SimEvent) == 24);

inline bool earlier(const SimEvent& a, const SimEvent& b) {
  return a.time < b.time || (a.time == b.time && a.key < b.key);
}

class SimEventHeap {
 public:
  bool empty() const { return v_.empty(); }
  std::size_t size() const { return v_.size(); }
  const SimEvent& top() const { return v_.front(); }

  void push(const SimEvent& e) {
    std::size_t i = v_.size();
    v_.push_back(e);
    while (i > 0) {
      const std::size_t parent = (i - 1) / 4;
      if (!earlier(e, v_[parent])) break;
      v_[i] = v_[parent];
      i = parent;
    }
    v_[i] = e;
  }

  SimEvent pop() {
    const SimEvent top = v_.front();
    const SimEvent last = v_.back();
    v_.pop_back();
    const std::size_t n = v_.size();
    if (n == 0) return top;
    std::size_t i = 0;
    for (;;) {
      const std::size_t first = 4 * i + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t end = first + 4 < n ? first + 4 : n;
      for (std::size_t c = first + 1; c < end; ++c)
        if (earlier(v_[c], v_[best])) best = c;
      if (!earlier(v_[best], last)) break;
      v_[i] = v_[best];
      i = best;
    }
    v_[i] = last;
    return top;
  }

 private:
  std::vector<SimEvent> v_;
};

// A vector of T with a free list: stable indices, no per-item allocation
// once warm.
template <class T>
class SlotPool {
 public:
  std::uint32_t put(T&& item) {
    if (!free_.empty()) {
      const std::uint32_t i = free_.back();
      free_.pop_back();
      items_[i] = std::move(item);
      return i;
    }
    items_.push_back(std::move(item));
    return static_cast<std::uint32_t>(items_.size() - 1);
  }
  T& at(std::uint32_t i) { return items_[i]; }
  // Moves the item out and frees its index.
  T take(std::uint32_t i) {
    T out = std::move(items_[i]);
    items_[i] = T{};
    free_.push_back(i);
    return out;
  }

 private:
  std::vector<T> items_;
  std::vector<std::uint32_t> free_;
};

}  // namespace mhr
