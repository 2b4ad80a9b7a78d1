#include "index_node/index_node.hpp"

#include <algorithm>

#include "common/backoff.hpp"
#include "common/verification.hpp"

namespace mhr {

namespace {

constexpr std::uint64_t kTickTag = 1;
constexpr std::uint64_t kIndexChainTag = 2;
constexpr std::uint8_t kOutboxTag = 'm';   // kPending: membership / presence messages
constexpr std::uint8_t kHandoffTag = 'd';  // kPending: deliveries to hand on
constexpr std::uint8_t kReplayTag = 'p';   // kPending: chains owed to another network
// kPending: own block whose acknowledgement waits for its memberships.
constexpr std::uint8_t kAwaitedTag = 'w';
// Replays asking the consensus node for a page at one time; the rest wait.
constexpr std::size_t kMaxReplaysAsking = 64;

// 'd', receiver, the block's header key, the delivery's hash.
Bytes handoff_key(NodeId to, const BlockHeader& h, const Hash& hash) {
  Bytes id;
  append_be32(id, to.value);
  Bytes block = header_key(h.network, h.height);
  id.insert(id.end(), block.begin(), block.end());
  id.insert(id.end(), hash.bytes.begin(), hash.bytes.end());
  return tagged_key(kHandoffTag, id);
}

// 'p', the network owed, the user.
Bytes replay_key(const UserId& user, NetworkId network) {
  Bytes id;
  append_be32(id, network.value);
  id.insert(id.end(), user.bytes.begin(), user.bytes.end());
  return tagged_key(kReplayTag, id);
}

// 'w', the own block's height.
Bytes awaited_key(std::uint64_t height) {
  Bytes id;
  append_be64(id, height);
  return tagged_key(kAwaitedTag, id);
}

// The block's header and the memberships it waits for.
Bytes encode_awaited(const SignedHeader& header, const std::set<std::pair<NodeId, Hash>>& waiting) {
  Writer w;
  w.u8(kCodecVersion);
  Codec<SignedHeader>::write(w, header);
  w.varint(waiting.size());
  for (const auto& [node, hash] : waiting) w.fixed(hash);
  return w.take();
}

Bytes encode_sequence(std::uint64_t seq) {
  Writer w;
  w.varint(seq);
  return w.take();
}

}  // namespace

IndexNode::IndexNode(Env& env, TopologyPtr topology)
    : env_(env),
      topology_(std::move(topology)),
      chain_(env.store()),
      network_(topology_->network_of(env.self())),
      consensus_(topology_->consensus_of(network_)),
      follower_(env, *topology_, network_),
      outbox_(env, topology_->params(), kOutboxTag),
      tick_(kTickTag, kRetryTickQuantumUs),
      index_chain_(
          env, topology_, kIndexChainTag,
          [this](WriteBatch& b, const std::vector<IndexTx>& txs) { apply_index(b, txs); },
          [this](const std::vector<Hash>& txs) { on_index_committed(txs); }) {
  MHR_ASSERT(topology_->node(env.self()).role == NodeRole::kIndex);
  MHR_ASSERT(follower_.contact().group() == consensus_);
  outbox_.set_group(&follower_.contact());
}

void IndexNode::start() {
  table_.load(env_.store());
  follower_.load(chain_);
  outbox_.load();
  env_.store().scan_prefix(Table::kPending, Bytes{kHandoffTag}, [&](ByteView, ByteView value) {
    Reader r(value);
    NodeId to{r.u32()};
    std::optional<NodeId> ack_to;
    if (r.boolean()) ack_to = NodeId{r.u32()};
    auto m = decode<Message>(r.fixed(r.remaining()));
    MHR_ASSERT_MSG(r.ok() && m.ok() && std::holds_alternative<BlockDelivery>(m.value()),
                   "stored hand-off does not decode");
    const Hash hash = message_hash(m.value());
    handoffs_[{to, hash}] = {to, make_message(std::move(m).value()), ack_to, 0, env_.now_us()};
    return true;
  });
  env_.store().scan_prefix(Table::kPending, Bytes{kReplayTag}, [&](ByteView k, ByteView v) {
    Reader value(v);
    const std::uint64_t next = value.varint();
    MHR_ASSERT_MSG(k.size() == 1 + 4 + UserId::kSize && !value.finish_error(),
                   "stored replay does not decode");
    const NetworkId network{read_be32(k.subspan(1, 4))};
    const UserId user = UserId::from_view(k.subspan(5));
    replays_[{user, network}] = new_replay(next);
    return true;
  });
  follower_.request_catch_up();
  tick_.want(env_, env_.now_us());
  if (chained()) {
    index_chain_.start();
    load_awaited();
  }
}

// Own blocks stored before a restart whose memberships had not committed:
// still acknowledged only once they have.
void IndexNode::load_awaited() {
  std::vector<std::uint64_t> done;
  env_.store().scan_prefix(Table::kPending, Bytes{kAwaitedTag}, [&](ByteView k, ByteView v) {
    Reader r(v);
    r.version();
    SignedHeader header = Codec<SignedHeader>::read(r);
    std::set<std::pair<NodeId, Hash>> waiting;
    const std::size_t n = r.count(kMaxIndexBlockTxs, Hash::kSize);
    for (std::size_t i = 0; i < n && r.ok(); ++i) {
      const Hash h = r.fixed_as<Hash>();
      if (!index_chain_.is_committed(h)) waiting.emplace(env_.self(), h);
    }
    MHR_ASSERT_MSG(k.size() == 9 && !r.finish_error(), "stored awaited block does not decode");
    const std::uint64_t height = read_be64(k.subspan(1));
    announcing_[height] = {std::move(header), std::move(waiting)};
    follower_.defer(height);
    done.push_back(height);
    return true;
  });
  for (std::uint64_t h : done)
    if (announcing_.at(h).waiting.empty()) announced(env_.self(), Hash{});
}

std::string IndexNode::work_in_flight() const {
  if (!busy()) return {};
  return std::to_string(handoffs_.size()) + " hand-offs, " + std::to_string(replays_.size()) +
         " replays, " + std::to_string(outbox_.size()) + " messages unacknowledged" +
         (chained() && index_chain_.busy() ? ", index transactions uncommitted" : "");
}

void IndexNode::on_client(ClientRequestId id, const ClientRequest&) {
  env_.reply(id, make_reply(ReplyStatus::kRejected, "index nodes take no client requests"));
}

void IndexNode::on_message(NodeId from, const Message& message) {
  if (chained() && index_chain_.on_message(from, message)) return;
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, BlockDelivery>) {
          if (m.header.header.network == network_) {
            on_own_delivery(from, m);
          } else {
            on_forwarded_delivery(from, m);
          }
        }
        if constexpr (std::is_same_v<T, MembershipUpdate>) on_membership(from, m);
        if constexpr (std::is_same_v<T, PresenceQuery>) on_presence_query(m);
        if constexpr (std::is_same_v<T, HistoryRequest> || std::is_same_v<T, BlobRequest>)
          route_across(from, m);
        if constexpr (std::is_same_v<T, HistoryBatch>) on_history_batch(from, m);
        if constexpr (std::is_same_v<T, BlobPart>) relay_back(m);
        if constexpr (std::is_same_v<T, Ack>) on_ack(from, m);
        if constexpr (std::is_same_v<T, CommittedTip>) follower_.on_committed_tip(from, m);
      },
      message);
  if (busy()) tick_.want(env_, env_.now_us() + params().retry_timeout_us);
}

// ---- own network: registrations and records to forward ------------------------------

void IndexNode::on_own_delivery(NodeId from, const BlockDelivery& d) {
  if (!follower_.contact().is_replica(from)) {
    env_.count(Counter::kVerifyFailures);
    return;
  }
  if (header_error(d.header, *topology_, env_.verifier())) {
    env_.count(Counter::kVerifyFailures);
    follower_.on_unverifiable_delivery(d);
    return;
  }
  follower_.on_delivery(from, d, chain_,
                        [this](NodeId, const BlockDelivery& b) { return apply_own_block(b); });
}

ChainFollower::Applied IndexNode::apply_own_block(const BlockDelivery& d) {
  const BlockHeader& header = d.header.header;
  WriteBatch batch;
  chain_.put_header(batch, d.header);
  std::map<NetworkId, BlockDelivery> forwards;
  // New here: told to the other index nodes at once (user, record node).
  std::vector<std::pair<UserId, NodeId>> registered;
  std::vector<Membership> memberships;  // the same, with their proofs, for the index chain
  for (const ProvenEntry& pe : d.entries) {
    if (entry_error(pe, header, *topology_, env_.verifier())) {
      env_.count(Counter::kVerifyFailures);
      continue;
    }
    if (const auto* reg = std::get_if<Registration>(&pe.entry)) {
      // Sparse: every registration is news, also of a user known here, so
      // that every other network replays the user's chain to its new node.
      const bool fresh = learn_registration(batch, reg->user, network_);
      if (fresh || sparse()) {
        registered.emplace_back(reg->user, reg->node);
        if (chained()) memberships.push_back({reg->user, network_, reg->node, {d.header, pe}});
      }
      // New here, known elsewhere: records may have been written here for
      // the user before this node forwarded them (its flag said "nowhere").
      if (fresh && sparse())
        for (NetworkId other : table_.others(reg->user, network_))
          owe_replay(batch, reg->user, other);
      continue;
    }
    const auto* record = std::get_if<Record>(&pe.entry);
    if (!record) continue;  // audit anchors stay with their node
    const UserId& user = record->user;
    std::vector<NetworkId> targets;
    if (sparse()) {
      targets = table_.others(user, network_);
    } else {
      for (const NetworkInfo& n : topology_->networks())
        if (n.id != network_) targets.push_back(n.id);
    }
    for (NetworkId t : targets) {
      auto [it, fresh] = forwards.try_emplace(t, BlockDelivery{d.header, {}, std::nullopt});
      it->second.entries.push_back(pe);
    }
  }
  std::vector<HandoffKey> sent;
  for (auto& [target, delivery] : forwards) {
    env_.count(Counter::kRecordsForwarded, static_cast<std::int64_t>(delivery.entries.size()));
    sent.push_back(hand_off(batch, topology_->index_of(target), delivery, std::nullopt));
  }
  std::set<std::pair<NodeId, Hash>> waiting;
  if (chained()) {
    // The block's header is anchored on the index chain, its registrations
    // become memberships there.
    // Anchors wait while the index chain is far behind (it stopped).
    if (index_chain_.pending() < kMaxIndexPending / 2)
      index_chain_.submit(batch, Anchor{network_, header.height, header_hash(header)});
    for (Membership& m : memberships) {
      const IndexTx tx = std::move(m);
      index_chain_.submit(batch, tx);
      const Hash h = index_tx_hash(tx);
      if (!index_chain_.is_committed(h)) waiting.emplace(env_.self(), h);
    }
    if (!waiting.empty())
      batch.put(Table::kPending, awaited_key(header.height), encode_awaited(d.header, waiting));
  }
  env_.store().write(batch);
  for (const HandoffKey& key : sent) transmit(handoffs_.at(key));
  if (chained()) {
    index_chain_.flush();
    // A single index node commits at once, before this block waits.
    std::erase_if(waiting, [&](const auto& w) { return index_chain_.is_committed(w.second); });
  } else {
    std::vector<UserId> users;
    for (const auto& [user, node] : registered) users.push_back(user);
    waiting = announce(users);
  }
  if (waiting.empty()) {
    if (chained()) forget_awaited(header.height);
    return ChainFollower::Applied::kStored;
  }
  announcing_[header.height] = {d.header, std::move(waiting)};
  return ChainFollower::Applied::kStoredAckLater;
}

std::set<std::pair<NodeId, Hash>> IndexNode::announce(const std::vector<UserId>& users) {
  std::set<std::pair<NodeId, Hash>> waiting;
  for (std::size_t i = 0; i < users.size(); i += kMaxMembershipUsers) {
    auto begin = users.begin() + static_cast<std::ptrdiff_t>(i);
    auto end = users.begin() +
               static_cast<std::ptrdiff_t>(std::min(users.size(), i + kMaxMembershipUsers));
    MembershipUpdate m{network_, {begin, end}};
    for (NodeId peer : topology_->index_nodes())
      if (peer != env_.self()) waiting.emplace(peer, outbox_.send(peer, m));
  }
  return waiting;
}

void IndexNode::on_ack(NodeId from, const Ack& ack) {
  outbox_.on_ack(from, ack);
  on_handoff_ack(from, ack);
  announced(from, ack.message_hash);
}

void IndexNode::announced(NodeId from, const Hash& hash) {
  for (auto it = announcing_.begin(); it != announcing_.end();) {
    it->second.waiting.erase({from, hash});
    if (it->second.waiting.empty()) {
      follower_.ack(leader(), it->second.header);
      if (chained()) forget_awaited(it->first);
      it = announcing_.erase(it);
    } else {
      ++it;
    }
  }
}

// ---- the index chain ------------------------------------------------------------------------

void IndexNode::forget_awaited(std::uint64_t height) {
  if (!env_.store().get(Table::kPending, awaited_key(height))) return;
  WriteBatch batch;
  batch.del(Table::kPending, awaited_key(height));
  env_.store().write(batch);
}

// Memberships go into the table in chain order, on every index node alike
// (the table is the index chain replayed); a user of this network who
// registered elsewhere is owed the chain written here (as on_membership).
void IndexNode::apply_index(WriteBatch& batch, const std::vector<IndexTx>& txs) {
  for (const IndexTx& tx : txs) {
    const auto* m = std::get_if<Membership>(&tx);
    if (!m) continue;  // anchors: the index chain keeps them
    learn_registration(batch, m->user, m->network);
    if (sparse() && m->network != network_ && table_.contains(m->user, network_))
      owe_replay(batch, m->user, m->network);
  }
}

void IndexNode::on_index_committed(const std::vector<Hash>& txs) {
  for (const Hash& h : txs) announced(env_.self(), h);
  if (busy()) tick_.want(env_, env_.now_us() + params().retry_timeout_us);
}

// True when the user is new in that network. Every index node learns
// every user's rows, so the row is looked up once: the network just added
// is its last.
bool IndexNode::learn_registration(WriteBatch& batch, const UserId& user, NetworkId network) {
  if (!table_.add(batch, user, network)) return false;
  const std::span<const NetworkId> now = table_.networks(user);
  MHR_ASSERT(!now.empty() && now.back() == network);
  const bool now_elsewhere = any_elsewhere(now);
  const bool was_elsewhere = any_elsewhere(now.first(now.size() - 1));
  if (params().presence == PresenceMode::kTable && now_elsewhere != was_elsewhere &&
      std::find(now.begin(), now.end(), network_) != now.end())
    outbox_.send(consensus_, RemotePresence{user, now_elsewhere});
  return true;
}

bool IndexNode::present_elsewhere(const UserId& user) const {
  return any_elsewhere(table_.networks(user));
}

bool IndexNode::any_elsewhere(std::span<const NetworkId> networks) const {
  if (!sparse()) return topology_->network_count() > 1;
  return std::any_of(networks.begin(), networks.end(),
                     [this](NetworkId n) { return n != network_; });
}

void IndexNode::on_membership(NodeId from, const MembershipUpdate& m) {
  if (!topology_->has_node(from) || topology_->node(from).role != NodeRole::kIndex ||
      topology_->network_of(from) != m.network)
    return;
  WriteBatch batch;
  for (const UserId& user : m.users) {
    learn_registration(batch, user, m.network);
    if (sparse() && table_.contains(user, network_)) owe_replay(batch, user, m.network);
  }
  if (!batch.empty()) env_.store().write(batch);
  env_.send(from, make_message(Ack{message_hash(m)}));
}

void IndexNode::on_presence_query(const PresenceQuery& q) {
  env_.send(leader(), make_message(PresenceFlag{q.user, q.record_hash, present_elsewhere(q.user)}));
}

// ---- forwarded records: relay to our consensus node ----------------------------------

void IndexNode::on_forwarded_delivery(NodeId from, const BlockDelivery& d) {
  const BlockHeader& h = d.header.header;
  if (!topology_->has_node(from) || from != topology_->index_of(h.network) ||
      header_error(d.header, *topology_, env_.verifier())) {
    env_.count(Counter::kVerifyFailures);
    return;
  }
  if (handoffs_.contains({consensus_, message_hash(Message{d})})) return;  // relaying it
  WriteBatch batch;
  HandoffKey key = hand_off(batch, consensus_, d, from);
  env_.store().write(batch);
  transmit(handoffs_.at(key));
}

IndexNode::HandoffKey IndexNode::hand_off(WriteBatch& batch, NodeId to, const BlockDelivery& d,
                                          std::optional<NodeId> ack_to) {
  Bytes encoded = encode(Message{d});
  HandoffKey key{to, sha256(encoded)};
  if (handoffs_.contains(key)) return key;
  Writer w;
  w.varint(to.value);
  w.boolean(ack_to.has_value());
  if (ack_to) w.varint(ack_to->value);
  w.fixed(encoded);
  batch.put(Table::kPending, handoff_key(to, d.header.header, key.second), w.data());
  handoffs_[key] = {to, make_message(d), ack_to, 0, 0};
  return key;
}

void IndexNode::transmit(Handoff& h) {
  NodeId to = h.to;
  if (to == consensus_) {  // the group: whichever replica leads now
    if (h.attempts > 0) retrying();
    to = leader();
  }
  env_.send(to, h.delivery);
  h.attempts = std::min(h.attempts + 1, params().max_attempts);
  h.next_at_us = env_.now_us() + backoff_us(params(), h.attempts);
  tick_.want(env_, h.next_at_us);
}

void IndexNode::on_handoff_ack(NodeId from, const Ack& ack) {
  if (follower_.contact().is_replica(from)) from = consensus_;
  auto it = handoffs_.find({from, ack.message_hash});
  if (it == handoffs_.end()) return;
  // A relay is acknowledged to the forwarding index node once our
  // consensus node has it: custody passes hop by hop, never dropped.
  if (it->second.ack_to) env_.send(*it->second.ack_to, make_message(ack));
  const auto& d = std::get<BlockDelivery>(*it->second.delivery);
  WriteBatch batch;
  batch.del(Table::kPending, handoff_key(from, d.header.header, ack.message_hash));
  env_.store().write(batch);
  handoffs_.erase(it);
}

// ---- migration across networks ------------------------------------------------------------

template <class Request>
void IndexNode::route_across(NodeId from, const Request& req) {
  if (req.route.empty() || req.route.size() >= kMaxRouteHops || req.route.back() != from) return;
  Request next = req;
  next.route.push_back(env_.self());
  // From another network's index node: any replica finds our holders. Not
  // only the leader: an idle group may keep a faulty one, and nothing here
  // would time it (the group sweep, seed 3590 with the tip hint).
  if (!follower_.contact().is_replica(from)) {
    env_.send(follower_.contact().replica_for(req.request_id), make_message(std::move(next)));
    return;
  }
  std::vector<NetworkId> elsewhere = table_.others(req.user, network_);
  if (elsewhere.empty()) {
    env_.send(from, make_message(empty_answer(req)));
    return;
  }
  // A remote round asks where the user's history began; other rounds (and
  // retries) spread over every network that has the user.
  NetworkId target = req.remote ? elsewhere.front() : elsewhere[req.request_id % elsewhere.size()];
  env_.send(topology_->index_of(target), make_message(std::move(next)));
}

template <class Answer>
void IndexNode::relay_back(const Answer& answer) {
  if (auto next = step_back(answer, env_.self())) {
    const NodeId to = next->route.back();
    env_.send(to, make_message(std::move(*next)));
  }
}

// A page of a chain this node owes another network, or an answer to relay.
void IndexNode::on_history_batch(NodeId from, const HistoryBatch& batch) {
  if (batch.route.size() == 1 && batch.route.back() == env_.self() &&
      follower_.contact().is_replica(from))
    return on_replay_page(batch);
  relay_back(batch);
}

// ---- replays: a chain owed to a network where its user just registered ------------------

void IndexNode::owe_replay(WriteBatch& batch, const UserId& user, NetworkId network) {
  if (network == network_ || replays_.contains({user, network})) return;  // one covers all
  batch.put(Table::kPending, replay_key(user, network), encode_sequence(0));
  replays_[{user, network}] = new_replay(0);
  tick_.want(env_, env_.now_us());
}

IndexNode::Replay IndexNode::new_replay(std::uint64_t next_sequence) const {
  // A presence round, a block and the view changes of a group that lost its
  // leader (found by the group sweep, seed 316 of scenarios/group-sweep.yaml).
  const TimeUs settle_us =
      params().presence_timeout_us + params().block_timeout_us + 16 * params().retry_timeout_us;
  return {next_sequence, 0, 0, env_.now_us(), env_.now_us() + settle_us};
}

void IndexNode::ask_replay_page(const ReplayKey& key, Replay& r) {
  if (r.attempts > 0) retrying();
  r.request_id = env_.random_u64() | 1;  // never 0
  env_.send(
      leader(),
      make_message(HistoryRequest{
          r.request_id, key.first, {KnownChain{network_, r.next_sequence}}, {env_.self()}, false}));
  r.attempts = std::min(r.attempts + 1, params().max_attempts);
  r.next_at_us = env_.now_us() + backoff_us(params(), r.attempts);
  tick_.want(env_, r.next_at_us);
}

// A page of the user's chain here, from the consensus node, in sequence
// order from the one asked for: handed off per block to the network owed.
void IndexNode::on_replay_page(const HistoryBatch& page) {
  auto it = replays_.lower_bound({page.user, NetworkId{0}});
  while (it != replays_.end() && it->first.first == page.user &&
         it->second.request_id != page.request_id)
    ++it;
  if (it == replays_.end() || it->first.first != page.user) return;  // an old page
  const ReplayKey key = it->first;
  Replay& r = it->second;
  std::map<std::uint32_t, BlockDelivery> by_header;
  std::uint64_t next = r.next_sequence;
  for (const HistoryItem& item : page.items) {
    if (item.header_index >= page.headers.size() || item.record.network != network_ ||
        item.record.user != page.user) {
      env_.count(Counter::kVerifyFailures);
      continue;
    }
    auto [d, fresh] = by_header.try_emplace(
        item.header_index, BlockDelivery{page.headers[item.header_index], {}, std::nullopt});
    d->second.entries.push_back({Entry{item.record}, item.proof});
    next = std::max(next, item.record.sequence + 1);
  }
  WriteBatch batch;
  std::vector<HandoffKey> sent;
  for (const auto& [index, delivery] : by_header)
    sent.push_back(hand_off(batch, topology_->index_of(key.second), delivery, std::nullopt));
  env_.count(Counter::kRecordsForwarded, static_cast<std::int64_t>(page.items.size()));
  const bool done = page.last && env_.now_us() >= r.settled_at_us;
  if (done) {
    batch.del(Table::kPending, replay_key(key.first, key.second));
  } else {
    batch.put(Table::kPending, replay_key(key.first, key.second), encode_sequence(next));
  }
  env_.store().write(batch);
  for (const HandoffKey& k : sent) transmit(handoffs_.at(k));
  if (done) {
    replays_.erase(it);
    return;
  }
  r.next_sequence = next;
  r.attempts = 0;
  if (page.last) {  // the chain's end for now: read it once more when it settled
    r.request_id = 0;
    r.next_at_us = r.settled_at_us;
    tick_.want(env_, r.next_at_us);
    return;
  }
  ask_replay_page(key, r);
}

void IndexNode::tick_replays(TimeUs now, TimeUs& next) {
  std::size_t asking = 0;
  for (const auto& [key, r] : replays_) asking += r.request_id != 0 ? 1 : 0;
  for (auto& [key, r] : replays_) {
    if (r.next_at_us <= now && (r.request_id != 0 || asking < kMaxReplaysAsking)) {
      if (r.request_id != 0) env_.count(Counter::kRetries);
      if (r.request_id == 0) ++asking;
      ask_replay_page(key, r);
    }
    if (r.request_id != 0 || asking < kMaxReplaysAsking) next = std::min(next, r.next_at_us);
  }
}

// ---- retries ------------------------------------------------------------------------------

void IndexNode::on_timer(TimerId id, std::uint64_t tag) {
  if (tag == kIndexChainTag) {
    index_chain_.on_timer(id);
    return;
  }
  if (tick_.fired(id)) on_tick();
}

void IndexNode::on_tick() {
  const TimeUs now = env_.now_us();
  TimeUs next = outbox_.on_tick();
  for (auto& [key, h] : handoffs_) {
    if (h.next_at_us <= now) {
      env_.count(Counter::kRetries);
      transmit(h);
    }
    next = std::min(next, h.next_at_us);
  }
  tick_replays(now, next);
  if (next != INT64_MAX) tick_.want(env_, next);
}

}  // namespace mhr
