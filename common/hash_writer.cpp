#include "common/hash_writer.hpp"

#include <cstring>

namespace mhr {

void Sha256Sink::put(ByteView bytes) {
  if (bytes.empty()) return;  // an empty view may have no address to copy from
  if (bytes.size() > staged_.size() - staged_bytes_) flush();
  if (bytes.size() >= staged_.size()) {  // a payload: straight through
    stream_.update(bytes);
    return;
  }
  std::memcpy(staged_.data() + staged_bytes_, bytes.data(), bytes.size());
  staged_bytes_ += bytes.size();
}

void Sha256Sink::flush() {
  if (staged_bytes_ == 0) return;
  stream_.update(ByteView(staged_.data(), staged_bytes_));
  staged_bytes_ = 0;
}

Hash Sha256Sink::finish() {
  flush();
  return stream_.finish();
}

}  // namespace mhr
