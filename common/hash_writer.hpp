// The SHA-256 of what a codec writes, taken as it writes: a record's hash or
// a block's placement hash needs no buffer holding its encoding.
#pragma once

#include <array>

#include "common/codec.hpp"
#include "common/crypto.hpp"

namespace mhr {

// A ByteSink feeding SHA-256 through a small staging buffer: codecs write
// many pieces of a few bytes, and hashing each alone costs more than copying.
class Sha256Sink final : public ByteSink {
 public:
  void put(ByteView bytes) override;
  Hash finish();  // may be called once

 private:
  void flush();

  Sha256Stream stream_;
  std::array<std::uint8_t, 256> staged_{};
  std::size_t staged_bytes_ = 0;
};

template <class F>
Hash sha256_of_writing(F&& write) {
  Sha256Sink sink;
  Writer w = Writer::streaming(sink);
  write(w);
  return sink.finish();
}

}  // namespace mhr
