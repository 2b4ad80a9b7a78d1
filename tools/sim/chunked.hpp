// Runs fn(begin, end, chunk) over [0, count) cut into `threads` contiguous
// chunks, one thread each (the caller's thread takes chunk 0), and returns
// when all are done, rethrowing the first chunk's exception. Merging
// per-chunk results in chunk order gives what one loop from 0 to count
// would have given.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace mhr {

template <class Fn>
void for_each_chunk(std::size_t count, std::size_t threads, Fn&& fn) {
  threads = std::max<std::size_t>(1, std::min(threads, count));
  const std::size_t per = count / threads, extra = count % threads;
  std::vector<std::exception_ptr> errors(threads);
  auto guarded = [&](std::size_t begin, std::size_t end, std::size_t chunk) {
    try {
      fn(begin, end, chunk);
    } catch (...) {
      errors[chunk] = std::current_exception();
    }
  };
  {
    std::vector<std::jthread> others;
    std::size_t begin = per + (extra > 0 ? 1 : 0);
    for (std::size_t chunk = 1; chunk < threads; ++chunk) {
      const std::size_t end = begin + per + (chunk < extra ? 1 : 0);
      others.emplace_back(guarded, begin, end, chunk);
      begin = end;
    }
    guarded(0, per + (extra > 0 ? 1 : 0), 0);
  }  // joins
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace mhr
