#include "index_node/index_chain.hpp"

#include <algorithm>
#include <set>

#include "common/backoff.hpp"
#include "common/chain_store.hpp"

namespace mhr {

namespace {

constexpr std::uint8_t kHeaderTag = 'h';     // kIndexChain: height -> signed header
constexpr std::uint8_t kBodyTag = 'b';       // kIndexChain: height -> body
constexpr std::uint8_t kAnchorTag = 'a';     // kIndexChain: (network, height) -> header hash
constexpr std::uint8_t kTxTag = 'x';         // kIndexChain: tx hash -> height
constexpr std::uint8_t kSubmitTag = 'i';     // kPending: own transaction not yet committed
constexpr std::uint8_t kAgreementTag = 'c';  // kPending: the replica's PBFT state
// How often a replica with something to watch looks at its deadlines.
constexpr TimeUs kTickUs = 100 * kUsPerMs;

Bytes height_key(std::uint8_t tag, std::uint64_t height) {
  Bytes k{tag};
  append_be64(k, height);
  return k;
}

GroupConfig index_group(const Topology& t, NodeId self) {
  GroupConfig c;
  c.network = kIndexNetwork;
  for (NodeId n : t.index_nodes()) c.replicas.push_back({n, t.node(n).key});
  c.quorum = bft_quorum(c.replicas.size());
  c.self = self;
  c.body_matches = [](const BlockHeader& h, ByteView body) {
    auto txs = decode_index_body(body);
    return txs.ok() && index_body_matches(h, txs.value());
  };
  return c;
}

}  // namespace

Bytes index_header_key(std::uint64_t height) {
  return height_key(kHeaderTag, height);
}

Bytes index_body_key(std::uint64_t height) {
  return height_key(kBodyTag, height);
}

Bytes index_tx_key(const Hash& tx) {
  return tagged_key(kTxTag, tx.view());
}

Bytes index_agreement_key() {
  return Bytes{kAgreementTag};
}

Bytes index_anchor_key(NetworkId network, std::uint64_t height) {
  return tagged_key(kAnchorTag, header_key(network, height));
}

IndexChain::IndexChain(Env& env, TopologyPtr topology, std::uint64_t timer_tag, Apply apply,
                       Committed committed)
    : env_(env),
      topology_(std::move(topology)),
      agreement_(index_group(*topology_, env.self()), env.signer(), env.verifier()),
      sync_(agreement_, topology_->params()),
      apply_(std::move(apply)),
      committed_(std::move(committed)),
      timer_(timer_tag, kRetryTickQuantumUs) {}

void IndexChain::start() {
  Store& store = env_.store();
  if (auto last = store.last_with_prefix(Table::kIndexChain, Bytes{kHeaderTag})) {
    auto sh = decode<SignedHeader>(last->second);
    MHR_ASSERT_MSG(sh.ok(), "stored index header does not decode");
    tip_ = std::move(sh).value();
  }
  const std::optional<Bytes> durable = store.get(Table::kPending, index_agreement_key());
  agreement_.load(tip_, durable ? std::optional<ByteView>(*durable) : std::nullopt);
  store.scan_prefix(Table::kPending, Bytes{kSubmitTag}, [&](ByteView k, ByteView v) {
    auto tx = decode<IndexTx>(v);
    MHR_ASSERT_MSG(tx.ok() && k.size() == 1 + Hash::kSize, "stored index submission is malformed");
    pending_.emplace(Hash::from_view(k.subspan(1)), std::move(tx).value());
    return true;
  });
  sync_.on_commit(env_.now_us());
  // Peers tell how far the chain got: each is asked once.
  for (NodeId n : topology_->index_nodes())
    if (n != env_.self()) env_.send(n, make_message(BlockFetch{height(), view()}));
  want_tick();
}

bool IndexChain::is_committed(const Hash& tx) const {
  return env_.store().get(Table::kIndexChain, index_tx_key(tx)).has_value();
}

// ---- submissions ------------------------------------------------------------------------

bool IndexChain::submit(WriteBatch& batch, const IndexTx& tx) {
  const Hash h = index_tx_hash(tx);
  if (pending_.contains(h) || is_committed(h)) return false;
  MHR_ASSERT_MSG(pending_.size() < kMaxIndexPending, "too many index transactions pending");
  batch.put(Table::kPending, tagged_key(kSubmitTag, h.view()), encode(tx));
  pending_.emplace(h, tx);
  fresh_.push_back(tx);
  return true;
}

void IndexChain::flush() {
  send_txs(fresh_);
  fresh_.clear();
  if (next_submit_us_ == 0) next_submit_us_ = env_.now_us() + params().retry_timeout_us;
  want_tick();
}

// Every index node gets the own transactions: the leader orders them, the
// others time the leader.
void IndexChain::send_txs(const std::vector<IndexTx>& txs) {
  for (std::size_t i = 0; i < txs.size(); i += kMaxIndexBlockTxs) {
    const auto begin = txs.begin() + static_cast<std::ptrdiff_t>(i);
    const auto end =
        txs.begin() + static_cast<std::ptrdiff_t>(std::min(txs.size(), i + kMaxIndexBlockTxs));
    IndexSubmit s{{begin, end}};
    on_submit(env_.self(), s);
    broadcast(Message{std::move(s)});
  }
}

// Own transactions not committed within a retry time-out go again (a new
// leader, lost messages, a replica that was down).
void IndexChain::send_pending() {
  const TimeUs now = env_.now_us();
  if (pending_.empty()) {
    next_submit_us_ = 0;
    return;
  }
  if (now < next_submit_us_) return;
  next_submit_us_ = now + params().retry_timeout_us;
  std::vector<IndexTx> txs;
  for (const auto& [h, tx] : pending_) txs.push_back(tx);
  send_txs(txs);
}

void IndexChain::on_submit(NodeId from, const IndexSubmit& s) {
  const NetworkId network = topology_->network_of(from);
  std::set<Hash> proven_blocks;
  for (const IndexTx& tx : s.txs) {
    // An index node speaks for its own network only.
    if (index_tx_network(tx) != network) {
      env_.count(Counter::kVerifyFailures);
      continue;
    }
    if (queue_.size() >= kMaxIndexQueue) break;
    const Hash h = index_tx_hash(tx);
    if (queue_.contains(h) || is_committed(h)) continue;
    // Checked before it is ordered: the other replicas refuse a block with
    // an unproven membership, and so would stall on it.
    if (const auto* m = std::get_if<Membership>(&tx)) {
      if (auto e = proof_error(*m, proven_blocks)) {
        env_.count(Counter::kVerifyFailures);
        env_.log(LogLevel::kWarn,
                 "a membership from index node " + std::to_string(from.value) + " refused: " + *e);
        continue;
      }
    }
    queue_.emplace(h, Queued{tx, env_.now_us() + view_timeout_us()});
    if (batch_since_us_ < 0) batch_since_us_ = env_.now_us();
  }
  propose_if_due();
  want_tick();
}

// ---- ordering -------------------------------------------------------------------------------

// A partial block waits at most block_timeout, like an edge block: one
// index block for many anchors and memberships (each costs O(n^2) votes).
void IndexChain::propose_if_due() {
  if (!agreement_.can_propose() || queue_.empty()) return;
  const TimeUs due = batch_since_us_ + params().block_timeout_us;
  if (queue_.size() < kMaxIndexBlockTxs && batch_since_us_ >= 0 && env_.now_us() < due) {
    timer_.want(env_, due);
    return;
  }
  batch_since_us_ = queue_.size() > kMaxIndexBlockTxs ? env_.now_us() : -1;
  std::vector<IndexTx> txs;
  for (const auto& [h, q] : queue_) {
    txs.push_back(q.tx);
    if (txs.size() == kMaxIndexBlockTxs) break;
  }
  BlockHeader header;
  header.network = kIndexNetwork;
  header.height = height();
  header.prev_hash = tip_ ? header_hash(tip_->header) : Hash{};
  header.merkle_root = index_merkle_root(txs);
  header.entry_count = static_cast<std::uint32_t>(txs.size());
  header.time_us = env_.now_us();
  header.proposer = env_.self();
  checked_[header_hash(header)] = txs;
  act(agreement_.propose(header, SharedBytes(encode_index_body(txs)), height()));
}

void IndexChain::on_proposal(NodeId from, const Proposal& p) {
  if (p.header.height < height()) send_block(from, p.header.height);
  switch (agreement_.check_proposal(from, p)) {
    case Agreement::Verdict::kIgnore:
      return;
    case Agreement::Verdict::kLater:
      fetch(from);
      return;
    case Agreement::Verdict::kCheckBody:
      break;
  }
  auto txs = decode_index_body(p.body.view());
  std::optional<std::string> error;
  if (!txs.ok()) {
    error = "its body does not decode";
  } else if (!index_body_matches(p.header, txs.value())) {
    error = "its body is not what its header commits to";
  } else {
    error = body_error(txs.value());
  }
  if (error) {
    env_.count(Counter::kVerifyFailures);
    env_.log(LogLevel::kWarn,
             "index proposal of view " + std::to_string(p.view) + " refused: " + *error);
    return;
  }
  checked_[header_hash(p.header)] = std::move(txs).value();
  sync_.on_proposal(env_.now_us());
  act(agreement_.accept_proposal(p));
}

// What every replica checks before it votes: each transaction new, once,
// and about a known network (and one of its record nodes).
std::optional<std::string> IndexChain::body_error(const std::vector<IndexTx>& txs) const {
  if (txs.empty()) return "an empty block";
  std::set<Hash> seen;
  std::set<Hash> proven_blocks;  // one certificate check per edge block
  for (const IndexTx& tx : txs) {
    const Hash h = index_tx_hash(tx);
    if (!seen.insert(h).second) return "a transaction twice";
    if (is_committed(h)) return "a transaction committed before";
    if (!topology_->has_network(index_tx_network(tx))) return "an unknown network";
    if (const auto* m = std::get_if<Membership>(&tx)) {
      if (!topology_->has_node(m->node) || topology_->node(m->node).role != NodeRole::kRecord ||
          topology_->network_of(m->node) != m->network)
        return "a membership with a node of elsewhere";
      if (proven_before(h, tx)) continue;
      if (auto e = proof_error(*m, proven_blocks)) return "a membership: " + *e;
    }
  }
  return std::nullopt;
}

// This very transaction, proof and all, was checked when it was submitted
// here (or this node made it): its certificate need not be verified again.
bool IndexChain::proven_before(const Hash& h, const IndexTx& tx) const {
  if (auto q = queue_.find(h); q != queue_.end() && q->second.tx == tx) return true;
  auto own = pending_.find(h);
  return own != pending_.end() && own->second == tx;
}

// membership_error(), checking each edge block's certificate once per body.
std::optional<std::string> IndexChain::proof_error(const Membership& m,
                                                   std::set<Hash>& proven_blocks) const {
  const Hash block = header_hash(m.proof.header.header);
  const bool certified = proven_blocks.contains(block);
  if (auto e = membership_error(m, *topology_, env_.verifier(), certified)) return e;
  proven_blocks.insert(block);
  return std::nullopt;
}

void IndexChain::act(Agreement::Output out) {
  WriteBatch b;
  std::vector<Hash> done;
  for (const Agreement::Decision& d : out.committed) {
    const Hash h = header_hash(d.header.header);
    std::vector<IndexTx> txs;
    if (auto it = checked_.find(h); it != checked_.end()) {
      txs = std::move(it->second);
    } else {
      auto decoded = decode_index_body(d.body.view());
      MHR_ASSERT_MSG(decoded.ok(), "a committed index block's body does not decode");
      txs = std::move(decoded).value();
    }
    apply_commit(b, d.header, txs, done);
  }
  if (out.persist) b.put(Table::kPending, index_agreement_key(), agreement_.durable());
  if (!b.empty()) env_.store().write(b);  // votes are durable before they are sent
  for (Agreement::Send& s : out.sends) {
    if (s.to) {
      env_.send(*s.to, make_message(std::move(s.message)));
    } else {
      broadcast(s.message);
    }
  }
  if (out.proposed) sync_.on_proposal(env_.now_us());
  if (out.view_entered) {
    // The new leader gets a whole time-out for what is queued.
    sync_.on_view_entered(env_.now_us());
    for (auto& [h, q] : queue_) q.deadline_us = env_.now_us() + view_timeout_us();
    next_submit_us_ = 0;  // the new leader may lack them
  }
  if (!out.committed.empty()) {
    sync_.on_commit(env_.now_us());
    if (agreement_.leading())
      env_.count(Counter::kBlocksCommitted, static_cast<std::int64_t>(out.committed.size()));
    committed_(done);
  }
  if (out.fetch_from) fetch(*out.fetch_from);
  if (auto later = agreement_.take_later_proposal()) on_proposal(later->first, later->second);
  if (out.view_entered) send_pending();
  propose_if_due();
  want_tick();
}

void IndexChain::apply_commit(WriteBatch& b, const SignedHeader& qc,
                              const std::vector<IndexTx>& txs, std::vector<Hash>& done) {
  const std::uint64_t h = qc.header.height;
  MHR_ASSERT(h == (tip_ ? tip_->header.height + 1 : 0));
  Bytes height;
  append_be64(height, h);
  b.put(Table::kIndexChain, height_key(kHeaderTag, h), encode(qc));
  b.put(Table::kIndexChain, height_key(kBodyTag, h), encode_index_body(txs));
  for (const IndexTx& tx : txs) {
    const Hash th = index_tx_hash(tx);
    b.put(Table::kIndexChain, index_tx_key(th), height);
    if (const auto* a = std::get_if<Anchor>(&tx))
      b.put(Table::kIndexChain, index_anchor_key(a->network, a->height), a->header_hash.view());
    if (pending_.erase(th) > 0) b.del(Table::kPending, tagged_key(kSubmitTag, th.view()));
    queue_.erase(th);
    done.push_back(th);
  }
  apply_(b, txs);
  tip_ = qc;
  checked_.clear();
}

void IndexChain::broadcast(const Message& m) {
  MessagePtr p = make_message(Message(m));
  for (NodeId n : topology_->index_nodes())
    if (n != env_.self()) env_.send(n, p);
}

// ---- messages -------------------------------------------------------------------------------

bool IndexChain::on_message(NodeId from, const Message& message) {
  const bool chain_message =
      std::holds_alternative<IndexSubmit>(message) ||
      (is_group_message(message) && !std::holds_alternative<Forwarded>(message));
  if (!chain_message) return false;
  if (!agreement_.is_replica(from) || from == env_.self()) return true;
  // How far the chain got, as far as this replica can tell: it fetches
  // committed blocks until it is there.
  sync_.on_group_message(from, message);
  if (auto late = sync_.missed_commit(message)) send_block(from, *late);
  if (auto out = agreement_.on_message(from, message)) {
    act(std::move(*out));
  } else if (const auto* s = std::get_if<IndexSubmit>(&message)) {
    on_submit(from, *s);
  } else if (const auto* p = std::get_if<Proposal>(&message)) {
    on_proposal(from, *p);
  } else if (const auto* f = std::get_if<BlockFetch>(&message)) {
    on_block_fetch(from, *f);
  } else if (const auto* cb = std::get_if<CommittedBlock>(&message)) {
    on_committed_block(from, *cb);
  }
  return true;
}

// ---- catching up --------------------------------------------------------------------------

void IndexChain::fetch(NodeId peer) {
  if (auto f = sync_.fetch(env_.self(), peer, env_.now_us())) env_.send(peer, make_message(*f));
}

void IndexChain::on_block_fetch(NodeId from, const BlockFetch& f) {
  if (f.view < view() && agreement_.leading() && agreement_.new_view())
    env_.send(from, make_message(*agreement_.new_view()));
  const auto [begin, end] = sync_.fetch_range(f);
  for (std::uint64_t h = begin; h < end; ++h) send_block(from, h);
}

void IndexChain::send_block(NodeId to, std::uint64_t h) {
  auto sh = env_.store().get(Table::kIndexChain, height_key(kHeaderTag, h));
  auto body = env_.store().get(Table::kIndexChain, height_key(kBodyTag, h));
  MHR_ASSERT_MSG(sh && body, "committed index block missing from the store");
  auto header = decode<SignedHeader>(*sh);
  MHR_ASSERT_MSG(header.ok(), "stored index header does not decode");
  env_.send(to, make_message(CommittedBlock{header.value(), SharedBytes(std::move(*body))}));
}

void IndexChain::on_committed_block(NodeId from, const CommittedBlock& cb) {
  if (!sync_.on_committed_block(from, cb)) return;
  apply_fetched();
  if (sync_.behind() && sync_.fetched_empty()) fetch(sync_.ahead_peer());
}

// Fetched blocks in height order, each checked: its certificate, its link
// to the tip and its body (what a quorum of replicas checked).
void IndexChain::apply_fetched() {
  while (auto next = sync_.take_fetched()) {
    const CommittedBlock& cb = next->second;
    const BlockHeader* prev = tip_ ? &tip_->header : nullptr;
    auto txs = decode_index_body(cb.body.view());
    if (!agreement_.certificate_ok(cb.header) || header_link_error(cb.header.header, prev) ||
        !txs.ok() || !index_body_matches(cb.header.header, txs.value())) {
      env_.count(Counter::kVerifyFailures);
      sync_.distrust(next->first);
      continue;
    }
    WriteBatch b;
    std::vector<Hash> done;
    apply_commit(b, cb.header, txs.value(), done);
    env_.store().write(b);
    sync_.on_commit(env_.now_us());
    committed_(done);
    act(agreement_.on_caught_up(cb.header));
  }
}

// ---- timers -------------------------------------------------------------------------------

void IndexChain::want_tick() {
  if (sync_.idle() && queue_.empty() && pending_.empty()) return;
  timer_.want(env_, env_.now_us() + kTickUs);
}

bool IndexChain::on_timer(TimerId id) {
  if (!timer_.fired(id)) return false;
  on_tick();
  return true;
}

// A leader that does not commit what is queued is replaced; a height that
// does not move gets its messages sent again.
void IndexChain::on_tick() {
  const TimeUs now = env_.now_us();
  bool due = sync_.due(now);
  // The leader does not time itself out for what it has not proposed yet.
  for (auto it = queue_.begin(); it != queue_.end() && agreement_.active() && !due;) {
    if (is_committed(it->first)) {
      it = queue_.erase(it);
      continue;
    }
    due = !agreement_.leading() && it->second.deadline_us <= now;
    ++it;
  }
  if (due) {
    env_.log(LogLevel::kInfo, "index view " + std::to_string(view()) + " timed out");
    act(agreement_.on_timeout());
    const TimeUs deadline = sync_.timed_out(now);
    for (auto& [h, q] : queue_) q.deadline_us = deadline;
  } else if (sync_.behind()) {
    fetch(sync_.ahead_peer());
  } else if (sync_.resend_due(now)) {
    act(agreement_.resend());
  }
  send_pending();
  propose_if_due();
  want_tick();
}

}  // namespace mhr
