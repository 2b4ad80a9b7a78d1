#include "common/net/signature_prefetch.hpp"

#include <atomic>

#include "common/assert.hpp"
#include "common/client_codec.hpp"
#include "common/identity.hpp"
#include "common/verification.hpp"

namespace mhr {
namespace {

// Answers yes and writes the question down.
class CheckRecorder final : public Verifier {
 public:
  explicit CheckRecorder(SignatureBatch& out) : out_(out) {}
  bool verify(const PublicKey& key, ByteView message, const Signature& sig) const override {
    out_.add(key, message, sig);
    return true;
  }

 private:
  SignatureBatch& out_;
};

}  // namespace

void SignatureBatch::add(const PublicKey& key, ByteView message, const Signature& signature) {
  checks_.push_back({key, arena_.size(), message.size(), signature});
  arena_.insert(arena_.end(), message.begin(), message.end());
}

void SignatureBatch::clear() {
  checks_.clear();
  arena_.clear();
}

ByteView SignatureBatch::message(const SignatureCheck& c) const {
  MHR_ASSERT(c.message_offset + c.message_bytes <= arena_.size());
  return ByteView(arena_).subspan(c.message_offset, c.message_bytes);
}

void collect_checks(const Message& m, const Topology& topology, SignatureBatch& out) {
  const CheckRecorder recorder(out);
  if (const auto* s = std::get_if<StoreRequest>(&m)) {
    (void)record_author_error(s->record, topology, recorder);
  } else if (const auto* d = std::get_if<BlockDelivery>(&m)) {
    if (header_error(d->header, topology, recorder)) return;
    for (const ProvenEntry& pe : d->entries)
      (void)entry_error(pe, d->header.header, topology, recorder);
  }
}

void collect_checks(const ClientRequest& r, NodeId self, SignatureBatch& out) {
  const Credential* c = credential_of(r);
  if (c == nullptr) return;
  const CheckRecorder recorder(out);
  (void)verify_credential(*c, self, request_digest(r), recorder);
}

void collect_role_checks(const NodeLogic& logic, NodeId from, const Message& m,
                         SignatureBatch& out) {
  logic.note_signature_checks(from, m, CheckRecorder(out));
}

SignaturePool::SignaturePool(std::size_t threads, const Verifier& inner, VerifyMemo& memo,
                             std::uint64_t& checks)
    : inner_(inner), memo_(memo), checks_(checks) {
  MHR_ASSERT(threads >= 1 && threads <= 64);
  for (std::size_t i = 1; i < threads; ++i) workers_.emplace_back([this] { worker(); });
}

SignaturePool::~SignaturePool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void SignaturePool::run(const SignatureBatch& batch) {
  if (batch.empty()) return;
  {
    std::lock_guard lock(mu_);
    MHR_ASSERT(batch_ == nullptr);
    batch_ = &batch;
    next_ = 0;
    finished_ = 0;
    ++generation_;
  }
  wake_.notify_all();
  work_on_batch();
  std::unique_lock lock(mu_);
  done_.wait(lock, [&] { return finished_ == batch.size(); });
  batch_ = nullptr;
}

// Takes checks one at a time until the batch is exhausted.
void SignaturePool::work_on_batch() {
  for (;;) {
    const SignatureCheck* c = nullptr;
    ByteView message;
    {
      std::lock_guard lock(mu_);
      if (batch_ == nullptr || next_ >= batch_->size()) return;
      c = &(*batch_)[next_++];
      message = batch_->message(*c);
    }
    const Hash triple = VerifyMemo::key_of(c->key, message, c->signature);
    if (!memo_.contains(triple)) {
      std::atomic_ref<std::uint64_t>(checks_).fetch_add(1, std::memory_order_relaxed);
      if (inner_.verify(c->key, message, c->signature)) memo_.insert(triple);
    }
    bool all_done = false;
    {
      std::lock_guard lock(mu_);
      all_done = ++finished_ == batch_->size();
    }
    if (all_done) done_.notify_all();
  }
}

void SignaturePool::worker() {
  std::uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
    }
    work_on_batch();
  }
}

}  // namespace mhr
