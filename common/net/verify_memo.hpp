// VerifyMemo: the signatures a node process has already checked or made
// itself, so that a (key, message, signature) triple seen again costs a
// SHA-256 instead of an Ed25519 verification. A record node verifies its
// own records when their block comes back, and every holder sees a
// signature the prefetch pool checked moments before. Keyed by a hash of
// the whole triple, so a hit means the very same bytes; bounded, oldest
// forgotten first; thread-safe, because the prefetch pool fills it. Its
// tables are sized once: inserting allocates nothing.
#pragma once

#include <absl/container/flat_hash_set.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "common/crypto.hpp"

namespace mhr {

class VerifyMemo {
 public:
  explicit VerifyMemo(std::size_t capacity);

  static Hash key_of(const PublicKey& key, ByteView message, const Signature& sig);
  bool contains(const Hash& triple) const;
  void insert(const Hash& triple);
  std::size_t size() const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;
  absl::flat_hash_set<Hash, std::hash<Hash>> known_;
  std::vector<Hash> order_;  // a ring in insertion order, for eviction
  std::size_t next_ = 0;     // where the next insertion goes in order_
};

// A Verifier that answers from the memo and otherwise asks `inner`,
// counting the real verifications and remembering the good ones.
class MemoVerifier final : public Verifier {
 public:
  MemoVerifier(const Verifier& inner, VerifyMemo& memo, std::uint64_t& checks)
      : inner_(inner), memo_(memo), checks_(checks) {}
  bool verify(const PublicKey& key, ByteView message, const Signature& sig) const override;

 private:
  const Verifier& inner_;
  VerifyMemo& memo_;
  std::uint64_t& checks_;  // real verifications (memo misses), read by stats
};

// A Signer that remembers what it signs: its own signature verifies
// without a check when the signed bytes come back.
class MemoSigner final : public Signer {
 public:
  MemoSigner(std::unique_ptr<Signer> inner, VerifyMemo& memo)
      : inner_(std::move(inner)), memo_(memo) {}
  const PublicKey& public_key() const override { return inner_->public_key(); }
  Signature sign(ByteView message) const override;

 private:
  std::unique_ptr<Signer> inner_;
  VerifyMemo& memo_;
};

}  // namespace mhr
