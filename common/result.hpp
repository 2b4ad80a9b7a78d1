// Result<T, E>: a value or a typed error, for operations whose failure is an
// ordinary outcome (hostile input, missing key), not a broken invariant.
#pragma once

#include <utility>
#include <variant>

#include "common/assert.hpp"

namespace mhr {

template <class E>
struct Err {
  E error;
};

template <class E>
Err<E> err(E e) {
  return Err<E>{std::move(e)};
}

template <class T, class E>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Err<E> e) : v_(std::in_place_index<1>, std::move(e.error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    MHR_ASSERT(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    MHR_ASSERT(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    MHR_ASSERT(ok());
    return std::get<0>(std::move(v_));
  }
  const E& error() const {
    MHR_ASSERT(!ok());
    return std::get<1>(v_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, E> v_;
};

// Result of an operation that yields nothing on success.
struct Unit {};

}  // namespace mhr
