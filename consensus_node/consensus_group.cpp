// ConsensusNode's part in its replica group (docs/CONSENSUS.md): the
// agreement wired to the network and the store, proposals checked before a
// vote, committed blocks stored by every replica, requests forwarded to the
// leader and watched, view changes on time-outs, catching up from peers.
#include <algorithm>

#include "common/verification.hpp"
#include "consensus_node/consensus_node.hpp"
#include "consensus_node/stored_state.hpp"

namespace mhr {

using namespace stored;

namespace {

// How often a replica with something to watch looks at its deadlines.
constexpr TimeUs kGroupTickUs = 100 * kUsPerMs;

bool forwardable(const Message& m) {
  return std::holds_alternative<StoreRequest>(m) || std::holds_alternative<TxRequest>(m) ||
         std::holds_alternative<PresenceFlag>(m) || std::holds_alternative<RemotePresence>(m) ||
         std::holds_alternative<HistoryRequest>(m) || std::holds_alternative<BlobRequest>(m) ||
         std::holds_alternative<BlockDelivery>(m);
}

// Requests a replica watches: they must commit under a working leader.
std::optional<Entry> watched_entry(const Message& m) {
  if (const auto* s = std::get_if<StoreRequest>(&m)) return Entry{s->record};
  if (const auto* t = std::get_if<TxRequest>(&m)) return as_entry(t->tx);
  return std::nullopt;
}

}  // namespace

// Requests a leader does not take while it is behind the group.
bool ConsensusNode::deferred_while_behind(const Message& m) {
  return std::holds_alternative<StoreRequest>(m) || std::holds_alternative<TxRequest>(m) ||
         std::holds_alternative<HistoryRequest>(m) || std::holds_alternative<BlobRequest>(m) ||
         std::holds_alternative<RemotePresence>(m) || std::holds_alternative<BlockDelivery>(m);
}

void ConsensusNode::on_group_message(NodeId from, const Message& message) {
  if (!agreement_.is_replica(from) || from == env_.self()) return;
  // How far the group got, as far as this replica can tell: it fetches
  // committed blocks until it is there.
  sync_.on_group_message(from, message);
  // A replica still voting on a height committed here missed the commit:
  // the block brings it along.
  if (auto late = sync_.missed_commit(message)) send_block(from, *late);
  if (auto out = agreement_.on_message(from, message)) return act(std::move(*out));
  if (const auto* p = std::get_if<Proposal>(&message)) on_proposal(from, *p);
  if (const auto* f = std::get_if<BlockFetch>(&message)) on_block_fetch(from, *f);
  if (const auto* cb = std::get_if<CommittedBlock>(&message)) on_committed_block(from, *cb);
  if (const auto* f = std::get_if<Forwarded>(&message)) on_forwarded(from, *f);
}

// ---- requests while another replica leads ---------------------------------------------

void ConsensusNode::while_not_leading(NodeId from, const Message& message) {
  if (const auto* c = std::get_if<CatchUpRequest>(&message)) return on_catch_up(from, *c);
  if (const auto* h = std::get_if<HistoryBatch>(&message)) return relay_back(*h);
  if (const auto* b = std::get_if<BlobPart>(&message)) return relay_back(*b);
  if (const auto* a = std::get_if<Ack>(&message); a && from == agreement_.leader()) {
    watched_handoffs_.erase(a->message_hash);  // the leader finished a hand-off
    return;
  }
  if (!forwardable(message)) return;  // acknowledgements of deliveries this node did not send
  if (std::find(members_.begin(), members_.end(), from) == members_.end()) return;
  if (answers_without_leader(from, message)) return on_member_message(from, message);
  const std::optional<Entry> entry = watched_entry(message);
  if (entry) watch(*entry);
  const auto* handoff = std::get_if<BlockDelivery>(&message);
  if (handoff && from == index_node()) watch_handoff(*handoff);
  forward(from, message, entry.has_value());
}

// Requests for history and objects need no ordering: a replica that is not
// behind finds the holders itself, so a faulty leader cannot hold them back.
// Except the index node's claim of a chain it owes: that marks the user's
// records for it, which only the leader, who places them, can do. And
// except a member's request for a user it does not hold here yet: a member
// asks once its registration committed, so this replica missed that block
// without knowing it is behind (restarted, or cut off, before any peer
// showed it a later height) and its chain may lack the records the member
// asks for; its answer would end the member's migration incomplete
// (pipelined group sweep, seed 4771).
bool ConsensusNode::answers_without_leader(NodeId from, const Message& message) const {
  if (sync_.behind()) return false;
  if (std::holds_alternative<BlobRequest>(message)) return true;
  const auto* h = std::get_if<HistoryRequest>(&message);
  if (h == nullptr) return false;
  if (from == index_node()) return h->route.size() != 1;
  return h->remote || table_.holds(h->user, from);
}

// To the leader; a request that must commit also to the other replicas, so
// that all of them time it and replace a leader that ignores it.
void ConsensusNode::forward(NodeId origin, const Message& message, bool watched) {
  MessagePtr m = make_message(Forwarded{origin, SharedBytes(encode(message))});
  const NodeId leader = agreement_.leader();
  for (const auto& r : topology_->network(network_).consensus_nodes) {
    if (r == env_.self() || (!watched && r != leader)) continue;
    env_.send(r, m);
  }
}

void ConsensusNode::on_forwarded(NodeId from, const Forwarded& f) {
  auto inner = decode<Message>(f.message.view());
  if (!inner.ok() || !forwardable(inner.value()) ||
      std::find(members_.begin(), members_.end(), f.origin) == members_.end()) {
    env_.count(Counter::kVerifyFailures);
    env_.log(LogLevel::kWarn,
             "a forwarded request from replica " + std::to_string(from.value) + " is malformed");
    return;
  }
  if (leading()) return on_member_message(f.origin, inner.value());
  if (auto entry = watched_entry(inner.value())) watch(*entry);
}

void ConsensusNode::watch(const Entry& entry) {
  if (watched_.size() >= kMaxWatchedRequests) return;
  const Hash h = entry_hash(entry);
  if (watched_.contains(h) || watch_state(h, entry) == Watch::kDone) return;
  watched_.emplace(h, Watched{env_.now_us() + view_timeout_us(), entry});
  want_group_tick();
}

void ConsensusNode::watch_handoff(const BlockDelivery& d) {
  if (d.header.header.network == network_ || watched_handoffs_.size() >= kMaxWatchedRequests)
    return;
  watched_handoffs_.try_emplace(message_hash(Message{d}), env_.now_us() + view_timeout_us());
  want_group_tick();
}

// Blocks committed but never said delivered a view time-out on: a faulty
// leader may keep them from members that have nothing left to ask for (the
// pipelined group sweep, seed 5832), so the members are told, a few times,
// how far the chain goes; those behind catch up from the replicas.
void ConsensusNode::hint_committed_tip(TimeUs now) {
  if (undelivered_.empty() || !tip_) return;
  const std::uint64_t top = tip_->header.height;
  if (hinted_height_ != top) {
    hinted_height_ = top;
    tip_hints_ = 0;
    next_tip_hint_us_ = now + view_timeout_us();
    return;
  }
  if (tip_hints_ >= kMaxTipHints || now < next_tip_hint_us_) return;
  ++tip_hints_;
  next_tip_hint_us_ = now + view_timeout_us();
  MessagePtr hint = make_message(CommittedTip{network_, top});
  for (NodeId m : members_) env_.send(m, hint);
}

// kDone: committed, stale or invalid (no leader is to blame); kWaiting: it
// waits for another request first; kDue: a working leader commits it.
ConsensusNode::Watch ConsensusNode::watch_state(const Hash& h, const Entry& entry) const {
  if (env_.store().get(Table::kRecordIndex, h.view())) return Watch::kDone;
  if (const auto* r = std::get_if<Record>(&entry)) {
    if (r->network != network_ || !table_.holds(r->user, r->author_node)) return Watch::kDone;
    const std::optional<ChainTip> tip = committed_tip(env_.store(), r->user);
    const std::uint64_t next = tip ? tip->sequence + 1 : 0;
    if (r->sequence < next) return Watch::kDone;  // another record took its place
    if (r->sequence > next) return Watch::kWaiting;
    if (chain_continuity_error(*r, tip)) return Watch::kDone;
    return Watch::kDue;
  }
  if (const auto* reg = std::get_if<Registration>(&entry)) {
    if (reg->network != network_ || !is_own_record_node(reg->node)) return Watch::kDone;
    return table_.holds(reg->user, reg->node) ? Watch::kDone : Watch::kDue;
  }
  const auto& a = std::get<AuditAnchor>(entry);
  return a.network == network_ && is_own_record_node(a.node) ? Watch::kDue : Watch::kDone;
}

// ---- proposals: checked before a vote ------------------------------------------------------

// The author signatures body_error will check in a proposal, named ahead:
// the runtime checks them across cores before the proposal is handled, also
// when it is kept for later (a block proposed while the one before commits).
void ConsensusNode::note_signature_checks(NodeId from, const Message& message,
                                          const Verifier& recorder) const {
  const auto* p = std::get_if<Proposal>(&message);
  if (p == nullptr || !group() || p->header.network != network_ || from == env_.self()) return;
  auto entries = decode_block_body(p->body.view());
  if (!entries.ok()) return;
  for (const PlacedEntry& e : entries.value()) {
    if (const auto* r = std::get_if<Record>(&e.entry)) {
      (void)record_author_error(*r, *topology_, recorder);
    } else if (const auto* reg = std::get_if<Registration>(&e.entry)) {
      (void)verify_registration_signature(*reg, recorder);
    } else {
      (void)verify_anchor_signature(std::get<AuditAnchor>(e.entry), recorder);
    }
  }
}

void ConsensusNode::on_proposal(NodeId from, const Proposal& p) {
  if (p.header.network == network_ && p.header.height < height())
    send_block(from, p.header.height);  // a leader that missed the commit of its own block
  switch (agreement_.check_proposal(from, p)) {
    case Agreement::Verdict::kIgnore:
      return;
    case Agreement::Verdict::kLater:
      // A block proposed while the one below commits waits for it (its
      // signatures were checked on arrival); otherwise this replica lacks
      // the blocks below it, or the NewView of its view.
      if (!pipelined(p)) fetch(from);
      return;
    case Agreement::Verdict::kCheckBody:
      break;
  }
  auto entries = decode_block_body(p.body.view());
  std::optional<std::string> error;
  if (!entries.ok()) {
    error = "its body does not decode";
  } else {
    error = body_error(p.header, entries.value());
  }
  if (error) {
    env_.count(Counter::kVerifyFailures);
    env_.log(LogLevel::kWarn, "proposal of view " + std::to_string(p.view) + " refused: " + *error);
    return;
  }
  forget_delivered(p.delivered_below);
  checked_[header_hash(p.header)] = std::move(entries).value();
  sync_.on_proposal(env_.now_us());
  act(agreement_.accept_proposal(p));
}

bool ConsensusNode::pipelined(const Proposal& p) const {
  return agreement_.active() && p.view == agreement_.view() &&
         p.header.height == agreement_.next_height() + 1;
}

// What every replica checks of a block before it votes for it: what the
// leader decided must follow from the committed chain alone.
std::optional<std::string> ConsensusNode::body_error(
    const BlockHeader& h, const std::vector<PlacedEntry>& entries) const {
  if (entries.empty()) return "an empty block";
  if (auto e = body_mismatch(h, entries)) return e;
  std::set<Hash> seen;
  std::map<UserId, ChainTip> tips;  // the users' chains as the block extends them
  for (const PlacedEntry& p : entries) {
    if (!seen.insert(p.hash).second) return "an entry twice";
    if (env_.store().get(Table::kRecordIndex, p.hash.view())) return "an entry committed before";
    if (auto e = holders_error(p)) return e;
    if (const auto* r = std::get_if<Record>(&p.entry)) {
      if (p.origin != r->author_node || r->network != network_) return "a record of elsewhere";
      if (auto e = record_author_error(*r, *topology_, env_.verifier())) return e;
      if (!table_.holds(r->user, r->author_node))
        return "a record written where its user is not registered";
      auto t = tips.find(r->user);
      std::optional<ChainTip> tip = t != tips.end() ? std::optional<ChainTip>(t->second)
                                                    : committed_tip(env_.store(), r->user);
      if (r->sequence != (tip ? tip->sequence + 1 : 0) || chain_continuity_error(*r, tip))
        return "a record that does not continue its user's chain";
      tips[r->user] = ChainTip{r->sequence, p.hash};
    } else if (const auto* reg = std::get_if<Registration>(&p.entry)) {
      const bool ok = p.origin == reg->node && reg->network == network_ &&
                      is_own_record_node(reg->node) &&
                      topology_->node(reg->node).key == reg->node_key &&
                      verify_registration_signature(*reg, env_.verifier());
      if (!ok) return "a malformed registration";
    } else {
      const auto& a = std::get<AuditAnchor>(p.entry);
      const bool ok = p.origin == a.node && a.network == network_ && is_own_record_node(a.node) &&
                      topology_->node(a.node).key == a.node_key &&
                      verify_anchor_signature(a, env_.verifier());
      if (!ok) return "a malformed audit anchor";
    }
  }
  return std::nullopt;
}

// The sharing-table decision of an entry: exactly who the committed table
// says (the index node optional for records: it forwards only where the
// user is registered).
std::optional<std::string> ConsensusNode::holders_error(const PlacedEntry& p) const {
  if (!std::is_sorted(p.holders.begin(), p.holders.end()) ||
      std::adjacent_find(p.holders.begin(), p.holders.end()) != p.holders.end())
    return "holders not sorted";
  std::vector<NodeId> expected;
  if (const auto* r = std::get_if<Record>(&p.entry)) {
    if (!sparse()) {
      expected = members_;
      std::sort(expected.begin(), expected.end());
    } else {
      expected = table_.holders(r->user);
      if (std::binary_search(p.holders.begin(), p.holders.end(), index_node()))
        insert_sorted(expected, index_node());
    }
  } else if (const auto* reg = std::get_if<Registration>(&p.entry)) {
    expected = {reg->node};
    insert_sorted(expected, index_node());
  } else {
    expected = {std::get<AuditAnchor>(p.entry).node};
  }
  if (!std::ranges::equal(p.holders, expected)) return "holders other than the sharing table says";
  return std::nullopt;
}

// ---- acting on the agreement --------------------------------------------------------------

// Which entries the block in flight holds (after the commits of the same
// output, which take the block below out of flight): the block this leader
// just built, the one it proposed while the last one committed, or a block
// carried over from the last view. A block proposed above one that did not
// commit here lapses: its entries are taken afresh when their origins send
// them again. A proposal the same output decided (a carried-over block whose
// commit votes came first) is in flight no more.
void ConsensusNode::track_in_flight(const std::optional<Proposal>& proposed) {
  if (proposed && proposed->header.height >= agreement_.next_height()) {
    const Hash h = header_hash(proposed->header);
    if (next_inflight_ && next_inflight_->first == h) {
      inflight_ = std::move(next_inflight_);
      next_inflight_.reset();
    } else if (!(inflight_ && inflight_->first == h)) {
      carry_over(*proposed);
    }
  }
  if (next_inflight_ && !agreement_.proposing_next()) {
    release(next_inflight_->second);
    next_inflight_.reset();
  }
}

// A block carried over from the last view: its entries are in flight.
void ConsensusNode::carry_over(const Proposal& proposed) {
  auto entries = decode_block_body(proposed.body.view());
  MHR_ASSERT_MSG(entries.ok(), "a carried-over block's body does not decode");
  for (const PlacedEntry& p : entries.value()) {
    queued_.insert(p.hash);
    const auto* r = std::get_if<Record>(&p.entry);
    if (!r) continue;
    auto [tip, fresh] = projected_.try_emplace(r->user, ChainTip{r->sequence, p.hash});
    if (!fresh && tip->second.sequence < r->sequence) tip->second = {r->sequence, p.hash};
  }
  inflight_.emplace(header_hash(proposed.header), std::move(entries).value());
}

// Entries of a block that will not commit: no longer queued here.
void ConsensusNode::release(const std::vector<PlacedEntry>& entries) {
  for (const PlacedEntry& p : entries) {
    queued_.erase(p.hash);
    if (const auto* r = std::get_if<Record>(&p.entry)) projected_.erase(r->user);
  }
}

void ConsensusNode::act(Agreement::Output out) {
  struct Decided {
    SignedHeader header;
    std::vector<PlacedEntry> entries;
    std::vector<std::pair<UserId, NodeId>> joined;
  };
  std::vector<Decided> decided;
  WriteBatch b;
  for (const Agreement::Decision& d : out.committed) {
    std::vector<PlacedEntry> entries = entries_of(d);
    auto joined = apply_commit(b, d.header, entries);
    decided.push_back({d.header, std::move(entries), std::move(joined)});
  }
  track_in_flight(out.proposed);
  if (out.persist) b.put(Table::kPending, Bytes{kAgreementTag}, agreement_.durable());
  if (!b.empty()) env_.store().write(b);  // votes are durable before they are sent
  for (Agreement::Send& s : out.sends) {
    MessagePtr m = make_message(std::move(s.message));
    if (s.to) {
      env_.send(*s.to, std::move(m));
      continue;
    }
    for (NodeId r : topology_->network(network_).consensus_nodes)
      if (r != env_.self()) env_.send(r, m);
  }
  if (out.proposed) sync_.on_proposal(env_.now_us());
  if (out.view_entered) {
    // The new leader gets a whole time-out for what was pending.
    sync_.on_view_entered(env_.now_us());
    for (auto& [h, w] : watched_) w.deadline_us = env_.now_us() + view_timeout_us();
    // The index node hands them to the new leader when it asks again.
    watched_handoffs_.clear();
  }
  check_leadership();
  for (Decided& d : decided) after_commit(d.header, std::move(d.entries), d.joined);
  if (out.fetch_from) fetch(*out.fetch_from);
  if (auto later = agreement_.take_later_proposal()) on_proposal(later->first, later->second);
  // What came while the block committed goes now, not at the block timer,
  // and so does what came while the block in flight prepared.
  const bool chain_moved = !out.committed.empty();
  const bool due =
      block_due_ || (!queue_.empty() && (chain_moved || agreement_.can_propose_next()));
  if (leading() && due && !building_) build_block();
  want_group_tick();
}

std::vector<PlacedEntry> ConsensusNode::entries_of(const Agreement::Decision& d) {
  const Hash h = header_hash(d.header.header);
  if (inflight_ && inflight_->first == h) {
    std::vector<PlacedEntry> entries = std::move(inflight_->second);
    inflight_.reset();
    return entries;
  }
  if (auto it = checked_.find(h); it != checked_.end()) return std::move(it->second);
  auto entries = decode_block_body(d.body.view());
  MHR_ASSERT_MSG(entries.ok(), "a committed block's body does not decode");
  return std::move(entries).value();
}

// Every replica stores a committed block and what follows from it: the
// record index, the users' chain tips, the sharing table, erasures.
std::vector<std::pair<UserId, NodeId>> ConsensusNode::apply_commit(
    WriteBatch& b, const SignedHeader& qc, std::vector<PlacedEntry>& entries) {
  const std::uint64_t height = qc.header.height;
  MHR_ASSERT(height == this->height());
  std::vector<std::pair<UserId, NodeId>> joined;  // new holders
  erasure_.on_block(b, entries, height);
  for (const PlacedEntry& p : entries) {
    queued_.erase(p.hash);
    watched_.erase(p.hash);
    b.put(Table::kRecordIndex, p.hash.view(), encode_height(height));
    if (const auto* reg = std::get_if<Registration>(&p.entry)) {
      if (table_.add_holder(b, reg->user, reg->node)) joined.emplace_back(reg->user, reg->node);
    } else if (const auto* r = std::get_if<Record>(&p.entry)) {
      b.put(Table::kUsers, tagged_key(kTipTag, r->user.view()), encode_tip({r->sequence, p.hash}));
      // A projection the chain caught up with (or overtook, when this
      // leader was behind) says nothing more than the chain.
      if (auto t = projected_.find(r->user);
          t != projected_.end() && t->second.sequence <= r->sequence)
        projected_.erase(t);
    }
  }
  chain_.put_header(b, qc);
  b.put(Table::kBlocks, header_key(network_, height), encode_block_body(entries));
  b.put(Table::kPending, outgoing_key(height), {});
  undelivered_.insert(height);
  tip_ = qc;
  checked_.clear();
  if (inflight_ && inflight_->first != header_hash(qc.header)) {
    // Another block took the height of this leader's own (it missed the
    // commit of a block it proposed before a restart): what it held in
    // flight is ordered afresh when its origins send it again.
    std::set<Hash> committed;
    for (const PlacedEntry& p : entries) committed.insert(p.hash);
    std::vector<PlacedEntry> lost;
    for (PlacedEntry& p : inflight_->second)
      if (!committed.contains(p.hash)) lost.push_back(std::move(p));
    release(lost);
  }
  inflight_.reset();
  return joined;
}

// The leader distributes a committed block and confirms it to the origins.
void ConsensusNode::after_commit(const SignedHeader& qc, std::vector<PlacedEntry> entries,
                                 const std::vector<std::pair<UserId, NodeId>>& joined) {
  sync_.on_commit(env_.now_us());
  if (!leading()) return;
  env_.count(Counter::kBlocksCommitted);
  const OutgoingKey key = own_key(qc.header.height);
  if (outgoing_.contains(key)) return;  // delivered already as the leader took over
  Outgoing out;
  out.header = qc;
  out.header_hash = header_hash(qc.header);
  std::vector<Hash> leaves;
  for (const PlacedEntry& p : entries) leaves.push_back(p.hash);
  MerkleTree tree(leaves);
  for (std::size_t i = 0; i < leaves.size(); ++i) out.proofs.push_back(tree.prove(i));
  std::vector<UserId> users = users_of(entries);
  out.entries = std::move(entries);
  auto& placed = outgoing_[key] = std::move(out);
  track(placed);
  for (const auto& [user, node] : joined) join_foreign(user, node);
  reconsider_contested(users);
}

// ---- deliveries the leader confirmed ----------------------------------------------------

std::uint64_t ConsensusNode::delivered_below() const {
  return undelivered_.empty() ? height() : *undelivered_.begin();
}

// The leader says every block below `below` reached all its members: a
// later leader need not deliver them again.
void ConsensusNode::forget_delivered(std::uint64_t below) {
  if (leading()) return;
  below = std::min(below, height());
  WriteBatch b;
  while (!undelivered_.empty() && *undelivered_.begin() < below) {
    b.del(Table::kPending, outgoing_key(*undelivered_.begin()));
    undelivered_.erase(undelivered_.begin());
  }
  if (!b.empty()) env_.store().write(b);
}

// ---- catching up from peers --------------------------------------------------------------

// Whom a replica behind the group asks for blocks: every other time the one
// that showed it is behind, in between the others in turn, since that one
// may withhold them (a Byzantine replica, found by the group sweep, seed
// 2483) and a quorum certificate means f+1 honest replicas have them.
NodeId ConsensusNode::next_replica_to_ask() {
  const auto& replicas = topology_->network(network_).consensus_nodes;
  MHR_ASSERT(replicas.size() > 1);
  ask_ahead_peer_ = !ask_ahead_peer_;
  if (ask_ahead_peer_ && sync_.behind()) return sync_.ahead_peer();
  NodeId peer = env_.self();
  while (peer == env_.self()) peer = replicas[fetch_turn_++ % replicas.size()];
  return peer;
}

void ConsensusNode::fetch(NodeId peer) {
  if (auto f = sync_.fetch(env_.self(), peer, env_.now_us())) env_.send(peer, make_message(*f));
}

void ConsensusNode::on_block_fetch(NodeId from, const BlockFetch& f) {
  // A replica still in an older view: the NewView that started this one.
  if (f.view < agreement_.view() && agreement_.leading() && agreement_.new_view())
    env_.send(from, make_message(*agreement_.new_view()));
  const auto [begin, end] = sync_.fetch_range(f);
  for (std::uint64_t h = begin; h < end; ++h) send_block(from, h);
}

void ConsensusNode::send_block(NodeId to, std::uint64_t height) {
  auto sh = chain_.header(network_, height);
  auto body = env_.store().get(Table::kBlocks, header_key(network_, height));
  MHR_ASSERT_MSG(sh && body, "committed block missing from the store");
  env_.send(to, make_message(CommittedBlock{*sh, SharedBytes(std::move(*body))}));
}

void ConsensusNode::on_committed_block(NodeId from, const CommittedBlock& cb) {
  if (!sync_.on_committed_block(from, cb)) return;
  apply_fetched();
  if (sync_.behind() && sync_.fetched_empty()) fetch(sync_.ahead_peer());
  if (!sync_.behind()) order_watched();  // a leader that was behind
}

// Fetched blocks in height order, each checked: its certificate, its link
// to the tip and its body's Merkle root (its content 2f+1 replicas checked).
void ConsensusNode::apply_fetched() {
  while (auto next = sync_.take_fetched()) {
    auto& [from, cb] = *next;
    const BlockHeader* prev = tip_ ? &tip_->header : nullptr;
    auto entries = decode_block_body(cb.body.view());
    if (!agreement_.certificate_ok(cb.header) || header_link_error(cb.header.header, prev) ||
        !entries.ok() || body_mismatch(cb.header.header, entries.value())) {
      env_.count(Counter::kVerifyFailures);
      env_.log(LogLevel::kWarn,
               "a committed block from replica " + std::to_string(from.value) + " is refused");
      sync_.distrust(from);
      continue;
    }
    std::vector<PlacedEntry> placed = std::move(entries).value();
    WriteBatch b;
    auto joined = apply_commit(b, cb.header, placed);
    env_.store().write(b);
    after_commit(cb.header, std::move(placed), joined);
    act(agreement_.on_caught_up(cb.header));
  }
}

// ---- leadership ---------------------------------------------------------------------------

void ConsensusNode::check_leadership() {
  const bool now_leading = agreement_.leading();
  if (now_leading == was_leading_) return;
  was_leading_ = now_leading;
  if (now_leading) {
    lead();
  } else {
    step_down();
  }
}

// Another replica leads now: what this one was ordering is dropped (the
// origins send it again to the new leader, which distributes what is
// committed and not known delivered).
void ConsensusNode::step_down() {
  rounds_.clear();
  in_order_.clear();
  ahead_.clear();
  ahead_count_ = 0;
  contested_.clear();
  contested_count_ = 0;
  round_deadlines_.clear();
  queue_.clear();
  queued_.clear();
  projected_.clear();
  inflight_.reset();
  next_inflight_.reset();
  block_due_ = false;
  WriteBatch b;
  for (const auto& [key, out] : outgoing_) {
    const auto& [network, height, delivery_hash] = key;
    if (network != network_) b.del(Table::kPending, foreign_key(network, height, delivery_hash));
  }
  outgoing_.clear();
  foreign_acks_.clear();
  if (!b.empty()) env_.store().write(b);
}

// ---- timers -------------------------------------------------------------------------------

void ConsensusNode::want_group_tick() {
  if (!group()) return;
  if (sync_.idle() && watched_.empty() && watched_handoffs_.empty() && !hinting()) return;
  group_timer_.want(env_, env_.now_us() + kGroupTickUs);
}

// A leader that does not commit what it must is replaced; a height that
// does not move gets its messages sent again.
void ConsensusNode::on_group_tick() {
  const TimeUs now = env_.now_us();
  bool due = sync_.due(now);
  // The leader orders what it watches itself; it does not time itself out.
  for (auto it = watched_.begin(); it != watched_.end() && agreement_.active() && !leading();) {
    const Watch state = watch_state(it->first, it->second.entry);
    if (state == Watch::kDone) {
      it = watched_.erase(it);
      continue;
    }
    if (state == Watch::kDue && it->second.deadline_us <= now) due = true;
    ++it;
  }
  if (agreement_.active() && !leading()) {
    for (const auto& [h, deadline_us] : watched_handoffs_) due = due || deadline_us <= now;
    hint_committed_tip(now);
  }
  // Behind the group: catching up, whether or not the view also timed out
  // (a leader whose block committed everywhere but here, the commit votes
  // lost, would otherwise only suspect itself: group sweep, seed 1062).
  const bool behind = sync_.behind() || agreement_.below_view_start();
  if (behind) fetch(next_replica_to_ask());
  if (due) {
    env_.log(LogLevel::kInfo, "view " + std::to_string(agreement_.view()) + " timed out");
    act(agreement_.on_timeout());
    const TimeUs deadline = sync_.timed_out(now);
    for (auto& [h, w] : watched_) w.deadline_us = deadline;
    for (auto& [h, deadline_us] : watched_handoffs_) deadline_us = deadline;
  } else if (!behind && sync_.resend_due(now)) {
    act(agreement_.resend());
  }
  want_group_tick();
}

}  // namespace mhr
