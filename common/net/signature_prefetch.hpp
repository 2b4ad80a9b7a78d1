// SignaturePrefetch: before a runtime turn hands its messages to the role,
// the signatures they carry are checked across a few threads and the good
// ones remembered in the VerifyMemo, so the role's own checks (in order, on
// the loop thread) become look-ups. The checks are found by running the
// role's own verification functions with a verifier that only writes down
// what it is asked, so prefetch and role agree on every byte. A prefetch
// decides nothing: a bad signature is simply not remembered, and the role
// checks it again and refuses it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "common/client_api.hpp"
#include "common/env.hpp"
#include "common/messages.hpp"
#include "common/net/verify_memo.hpp"
#include "common/topology.hpp"

namespace mhr {

struct SignatureCheck {
  PublicKey key;
  std::size_t message_offset = 0;  // of the signed bytes in the batch's arena
  std::size_t message_bytes = 0;
  Signature signature;
};

// A turn's checks, their signed bytes one after another in one arena: a
// batch kept from turn to turn allocates nothing once it has grown.
class SignatureBatch {
 public:
  void add(const PublicKey& key, ByteView message, const Signature& signature);
  void clear();
  std::size_t size() const { return checks_.size(); }
  bool empty() const { return checks_.empty(); }
  const SignatureCheck& operator[](std::size_t i) const { return checks_[i]; }
  ByteView message(const SignatureCheck& c) const;

 private:
  std::vector<SignatureCheck> checks_;
  Bytes arena_;
};

// The checks a role makes of a message or a client request when it first
// sees it (headers, entries, records, credentials).
void collect_checks(const Message& m, const Topology& topology, SignatureBatch& out);
void collect_checks(const ClientRequest& r, NodeId self, SignatureBatch& out);
// And those the role itself names (NodeLogic::note_signature_checks).
void collect_role_checks(const NodeLogic& logic, NodeId from, const Message& m,
                         SignatureBatch& out);

// Worker threads that verify batches of checks into a VerifyMemo.
class SignaturePool {
 public:
  // `threads` counts the caller, which works too: 1 means no extra thread.
  SignaturePool(std::size_t threads, const Verifier& inner, VerifyMemo& memo,
                std::uint64_t& checks);
  ~SignaturePool();
  SignaturePool(const SignaturePool&) = delete;
  SignaturePool& operator=(const SignaturePool&) = delete;

  // Verifies those of `batch` the memo does not know, and returns when all
  // are done.
  void run(const SignatureBatch& batch);

 private:
  void work_on_batch();
  void worker();

  const Verifier& inner_;
  VerifyMemo& memo_;
  std::uint64_t& checks_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const SignatureBatch* batch_ = nullptr;
  std::size_t next_ = 0;      // next index to take, under mu_
  std::size_t finished_ = 0;  // checks done, under mu_
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace mhr
