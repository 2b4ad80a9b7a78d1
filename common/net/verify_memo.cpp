#include "common/net/verify_memo.hpp"

#include <atomic>

#include "common/assert.hpp"

namespace mhr {

VerifyMemo::VerifyMemo(std::size_t capacity) : capacity_(capacity) {
  MHR_ASSERT(capacity_ > 0);
  known_.reserve(capacity_ + 1);
  order_.reserve(capacity_);
}

Hash VerifyMemo::key_of(const PublicKey& key, ByteView message, const Signature& sig) {
  Sha256Stream h;
  h.update(ByteView(key.bytes.data(), key.bytes.size()));
  h.update(ByteView(sig.bytes.data(), sig.bytes.size()));
  h.update(message);
  return h.finish();
}

bool VerifyMemo::contains(const Hash& triple) const {
  std::lock_guard lock(mu_);
  return known_.contains(triple);
}

void VerifyMemo::insert(const Hash& triple) {
  std::lock_guard lock(mu_);
  if (!known_.insert(triple).second) return;
  if (order_.size() < capacity_) {
    order_.push_back(triple);
  } else {
    known_.erase(order_[next_]);
    order_[next_] = triple;
    next_ = (next_ + 1) % capacity_;
  }
  MHR_ASSERT(known_.size() == order_.size());
}

std::size_t VerifyMemo::size() const {
  std::lock_guard lock(mu_);
  return known_.size();
}

bool MemoVerifier::verify(const PublicKey& key, ByteView message, const Signature& sig) const {
  const Hash triple = VerifyMemo::key_of(key, message, sig);
  if (memo_.contains(triple)) return true;
  std::atomic_ref<std::uint64_t>(checks_).fetch_add(1, std::memory_order_relaxed);
  if (!inner_.verify(key, message, sig)) return false;
  memo_.insert(triple);
  return true;
}

Signature MemoSigner::sign(ByteView message) const {
  Signature sig = inner_->sign(message);
  memo_.insert(VerifyMemo::key_of(inner_->public_key(), message, sig));
  return sig;
}

}  // namespace mhr
