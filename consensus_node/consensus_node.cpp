#include "consensus_node/consensus_node.hpp"

#include <algorithm>

#include "common/backoff.hpp"
#include "common/verification.hpp"
#include "consensus_node/chain_page.hpp"
#include "consensus_node/stored_state.hpp"

namespace mhr {

using namespace stored;

namespace {

constexpr std::uint64_t kTickTag = 1;
constexpr std::uint64_t kBlockTag = 2;
constexpr std::uint64_t kGroupTag = 3;
constexpr std::uint64_t kCatchUpBlocks = 64;

}  // namespace

namespace {

// The user an entry is about: a record's or a registration's; none for an
// audit anchor.
const UserId* user_of(const Entry& e) {
  if (const auto* r = std::get_if<Record>(&e)) return &r->user;
  if (const auto* reg = std::get_if<Registration>(&e)) return &reg->user;
  return nullptr;
}

GroupConfig group_config(const Topology& topology, NetworkId network, NodeId self) {
  const NetworkInfo& net = topology.network(network);
  GroupConfig c;
  c.network = network;
  c.replicas = net.validators.members;
  c.quorum = net.validators.quorum;
  c.self = self;
  MHR_ASSERT(c.replicas.size() == net.consensus_nodes.size());
  for (std::size_t i = 0; i < c.replicas.size(); ++i)
    MHR_ASSERT(c.replicas[i].node == net.consensus_nodes[i]);
  c.body_matches = [](const BlockHeader& h, ByteView body) {
    auto entries = decode_block_body(body);
    return entries.ok() && !body_mismatch(h, entries.value());
  };
  c.pipeline = topology.params().pipeline;
  return c;
}

}  // namespace

ConsensusNode::ConsensusNode(Env& env, TopologyPtr topology)
    : env_(env),
      topology_(std::move(topology)),
      chain_(env.store()),
      network_(topology_->network_of(env.self())),
      members_(topology_->members_of(network_)),
      erasure_(env.store(), network_),
      tick_(kTickTag, kRetryTickQuantumUs),
      block_timer_(kBlockTag),
      agreement_(group_config(*topology_, network_, env.self()), env.signer(), env.verifier()),
      sync_(agreement_, topology_->params()),
      group_timer_(kGroupTag, kRetryTickQuantumUs) {
  MHR_ASSERT(topology_->node(env.self()).role == NodeRole::kConsensus);
}

// ---- start: rebuild from the store -----------------------------------------------

void ConsensusNode::start() {
  table_.load(env_.store());
  tip_ = chain_.last_header(network_);
  const std::optional<Bytes> durable = env_.store().get(Table::kPending, Bytes{kAgreementTag});
  agreement_.load(tip_, durable ? std::optional<ByteView>(*durable) : std::nullopt);
  env_.store().scan_prefix(Table::kPending, Bytes{kOutgoingOwnTag}, [&](ByteView k, ByteView) {
    undelivered_.insert(read_be64(k.subspan(1)));
    return true;
  });
  sync_.on_commit(env_.now_us());
  check_leadership();
  if (!was_leading_) {
    // Foreign deliveries are the leader's to distribute; the index node
    // hands them to whoever leads until one acknowledges.
    WriteBatch b;
    env_.store().scan_prefix(Table::kPending, Bytes{kForeignTag}, [&](ByteView k, ByteView) {
      b.del(Table::kPending, Bytes(k.begin(), k.end()));
      return true;
    });
    if (!b.empty()) env_.store().write(b);
  }
  want_group_tick();
}

// Becoming the leader: deliveries the last leader may not have finished go
// out again (holders deduplicate), from the store.
void ConsensusNode::lead() {
  for (std::uint64_t height : undelivered_) {
    if (outgoing_.size() >= kMaxOutgoingBlocks) break;
    if (!outgoing_.contains(own_key(height))) redeliver(height);
  }
  std::vector<BlockDelivery> foreign;
  env_.store().scan_prefix(Table::kPending, Bytes{kForeignTag}, [&](ByteView, ByteView v) {
    auto m = decode<Message>(v);
    MHR_ASSERT_MSG(m.ok() && std::holds_alternative<BlockDelivery>(m.value()),
                   "stored foreign delivery does not decode");
    foreign.push_back(std::get<BlockDelivery>(std::move(m).value()));
    return true;
  });
  for (const auto& d : foreign) on_foreign_delivery(index_node(), d);
  order_watched();
}

// Requests other replicas forwarded while another replica led: ordered
// now, without waiting for their origins to send them again.
void ConsensusNode::order_watched() {
  if (!leading() || sync_.behind()) return;
  std::vector<Entry> requests;
  for (const auto& [h, w] : watched_) requests.push_back(w.entry);
  for (const Entry& e : requests) {
    if (const auto* r = std::get_if<Record>(&e)) {
      on_store_request(r->author_node, StoreRequest{*r});
    } else if (const auto* reg = std::get_if<Registration>(&e)) {
      on_tx_request(reg->node, TxRequest{*reg});
    } else {
      const auto& a = std::get<AuditAnchor>(e);
      on_tx_request(a.node, TxRequest{a});
    }
  }
}

void ConsensusNode::redeliver(std::uint64_t height) {
  auto sh = chain_.header(network_, height);
  auto body = env_.store().get(Table::kBlocks, header_key(network_, height));
  MHR_ASSERT_MSG(sh.has_value(), "outgoing block header missing from the store");
  Outgoing out;
  out.header = *sh;
  out.header_hash = header_hash(sh->header);
  out.entries = stored::body(body);
  std::vector<Hash> leaves;
  for (const auto& p : out.entries) leaves.push_back(p.hash);
  MerkleTree tree(leaves);
  for (std::size_t i = 0; i < leaves.size(); ++i) out.proofs.push_back(tree.prove(i));
  auto& placed = outgoing_[own_key(height)] = std::move(out);
  track(placed);
}

// ---- messages ------------------------------------------------------------------------

void ConsensusNode::on_message(NodeId from, const Message& message) {
  if (is_group_message(message)) {
    on_group_message(from, message);
  } else if (leading()) {
    // A leader behind the group would order and refuse on an old chain and
    // sharing table: requests wait (their origins retry) until it caught up.
    if (sync_.behind() && deferred_while_behind(message)) return;
    on_member_message(from, message);
  } else {
    while_not_leading(from, message);
  }
}

void ConsensusNode::on_member_message(NodeId from, const Message& message) {
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, StoreRequest>) on_store_request(from, m);
        if constexpr (std::is_same_v<T, PresenceFlag>) on_presence_flag(from, m);
        if constexpr (std::is_same_v<T, TxRequest>) on_tx_request(from, m);
        if constexpr (std::is_same_v<T, DeliveryAck>) on_delivery_ack(from, m);
        if constexpr (std::is_same_v<T, Ack>) on_foreign_ack(from, m);
        if constexpr (std::is_same_v<T, CatchUpRequest>) on_catch_up(from, m);
        if constexpr (std::is_same_v<T, BlockDelivery>) on_foreign_delivery(from, m);
        if constexpr (std::is_same_v<T, RemotePresence>) on_remote_presence(from, m);
        if constexpr (std::is_same_v<T, HistoryRequest> || std::is_same_v<T, BlobRequest>)
          route_to_holder(from, m);
        if constexpr (std::is_same_v<T, HistoryBatch> || std::is_same_v<T, BlobPart>) relay_back(m);
      },
      message);
}

std::string ConsensusNode::work_in_flight() const {
  // A replica's accepted proposal that has not committed here is work too:
  // its view timer runs until it commits (a leader that withheld its commit
  // votes has the members' headers ahead of every honest replica until they
  // learn of the commit; pipelined group sweep, seed 8537).
  const std::size_t agreeing = std::max<std::size_t>((inflight_ ? 1 : 0) + (next_inflight_ ? 1 : 0),
                                                     group() && agreement_.in_flight() ? 1 : 0);
  if (queue_.empty() && outgoing_.empty() && agreeing == 0) return {};
  return std::to_string(queue_.size()) + " entries queued, " + std::to_string(agreeing) +
         " blocks being agreed, " + std::to_string(outgoing_.size()) + " blocks being delivered";
}

void ConsensusNode::on_client(ClientRequestId id, const ClientRequest&) {
  env_.reply(id, make_reply(ReplyStatus::kRejected, "consensus nodes take no client requests"));
}

void ConsensusNode::on_store_request(NodeId from, const StoreRequest& req) {
  const UserId user = req.record.user;
  if (!place_record(from, req.record)) return;
  // Records of the user that came early may follow now.
  while (auto held = take_held(user)) {
    if (!place_record(held->first, held->second)) break;
  }
}

// Handles one record; true when it was accepted for ordering.
bool ConsensusNode::place_record(NodeId from, const Record& r) {
  Hash h = record_hash(r);
  // A retry of a record already being placed or queued changes nothing.
  if (queued_.contains(h)) return false;
  if (auto round = rounds_.find(h); round != rounds_.end() && round->second.record) return false;
  if (auto committed = env_.store().get(Table::kRecordIndex, h.view())) {
    // A retry of something already ordered: confirm once it is delivered.
    if (!outgoing_.contains(own_key(read_be64(*committed))))
      env_.send(from, make_message(Committed{{h}}));
    return false;
  }
  if (ahead_of_tip(r)) {  // its predecessor is on its way
    hold_ahead(from, r);
    return false;
  }
  if (auto rejection = check_record(from, r, h)) {
    env_.count(Counter::kRecordsRejected);
    env_.send(from, make_message(*rejection));
    return false;
  }
  if (contested(r)) {
    hold_contested(from, r, h);
    return false;
  }
  accept_record(from, r, h);
  return true;
}

// A record is refused for good only against the committed chain: in a group,
// a record ordered but not committed may still be dropped at a view change,
// and if both of two rival records were refused for each other (by two
// leaders), the user's chain would wait for ever for the one nobody sends.
void ConsensusNode::hold_contested(NodeId origin, const Record& r, const Hash& h) {
  if (contested_count_ >= kMaxHeldAhead) return;  // the origin retries later
  // Held until a rival commits: its own payload, not its frame.
  auto [it, fresh] = contested_[r.user].try_emplace(h, origin, detached(r));
  if (fresh) ++contested_count_;
}

void ConsensusNode::reconsider_contested(const std::vector<UserId>& users) {
  for (const UserId& user : users) {
    auto it = contested_.find(user);
    if (it == contested_.end()) continue;
    auto records = std::move(it->second);
    contested_.erase(it);
    contested_count_ -= records.size();
    for (auto& [hash, held] : records) place_record(held.first, held.second);
  }
}

void ConsensusNode::hold_ahead(NodeId origin, const Record& r) {
  if (ahead_count_ >= kMaxHeldAhead) return;  // the origin retries later
  // Held until its predecessor comes: its own payload, not its frame.
  auto [it, fresh] = ahead_[r.user].try_emplace(r.sequence, origin, detached(r));
  if (fresh) ++ahead_count_;
}

// The user's next record, if it arrived early and waits here.
std::optional<std::pair<NodeId, Record>> ConsensusNode::take_held(const UserId& user) {
  auto held = ahead_.find(user);
  if (held == ahead_.end()) return std::nullopt;
  std::optional<ChainTip> tip = user_tip(user);
  const std::uint64_t next = tip ? tip->sequence + 1 : 0;
  auto& by_seq = held->second;
  while (!by_seq.empty() && by_seq.begin()->first < next) {  // overtaken: drop
    by_seq.erase(by_seq.begin());
    --ahead_count_;
  }
  std::optional<std::pair<NodeId, Record>> out;
  if (!by_seq.empty() && by_seq.begin()->first == next) {
    out = std::move(by_seq.begin()->second);
    by_seq.erase(by_seq.begin());
    --ahead_count_;
  }
  if (by_seq.empty()) ahead_.erase(held);
  return out;
}

// nullopt: the record may be ordered now. A record ahead of the user's tip
// is neither accepted nor refused: its predecessor is on its way.
std::optional<Rejected> ConsensusNode::check_record(NodeId from, const Record& r, const Hash& h) {
  if (from != r.author_node || r.network != network_ ||
      record_author_error(r, *topology_, env_.verifier()))
    return Rejected{h, RejectReason::kBadSignature, std::nullopt};
  if (!table_.holds(r.user, from)) return Rejected{h, RejectReason::kNotRegistered, std::nullopt};
  // A group's leader refuses only against the committed chain (contested()).
  std::optional<ChainTip> tip = group() ? committed_tip(env_.store(), r.user) : user_tip(r.user);
  std::uint64_t next = tip ? tip->sequence + 1 : 0;
  if (r.sequence < next || (r.sequence == next && chain_continuity_error(r, tip)))
    return Rejected{h, RejectReason::kStaleChainTip, tip};
  return std::nullopt;
}

std::vector<UserId> ConsensusNode::users_of(const std::vector<PlacedEntry>& entries) {
  std::vector<UserId> users;
  if (contested_.empty()) return users;  // the usual case: nothing to look up
  for (const PlacedEntry& p : entries)
    if (const auto* r = std::get_if<Record>(&p.entry)) users.push_back(r->user);
  return users;
}

// Conflicts with a record ordered but not committed yet (only in a group:
// otherwise check_record refused it against the same tip).
bool ConsensusNode::contested(const Record& r) const {
  std::optional<ChainTip> tip = user_tip(r.user);
  const std::uint64_t next = tip ? tip->sequence + 1 : 0;
  return r.sequence < next || (r.sequence == next && chain_continuity_error(r, tip));
}

bool ConsensusNode::ahead_of_tip(const Record& r) const {
  std::optional<ChainTip> tip = user_tip(r.user);
  return r.sequence > (tip ? tip->sequence + 1 : 0);
}

// The user's chain tip in this network, counting records queued for a block.
std::optional<ChainTip> ConsensusNode::user_tip(const UserId& user) const {
  if (auto it = projected_.find(user); it != projected_.end()) return it->second;
  return committed_tip(env_.store(), user);
}

void ConsensusNode::accept_record(NodeId origin, const Record& r, const Hash& h) {
  if (queue_.size() >= kMaxQueuedEntries || rounds_.size() >= kMaxPresenceRounds) return;
  projected_[r.user] = ChainTip{r.sequence, h};
  const bool broadcast = sparse() && params().presence == PresenceMode::kBroadcast;
  const SharingTable::Row* row = table_.find(r.user);
  const bool remote_unknown = sparse() && (!row || !row->remote.has_value());
  PresenceRound& round = rounds_[h];
  round.record = r;
  round.origin = origin;
  round.deadline_us = env_.now_us() + params().presence_timeout_us;
  in_order_[r.user].hashes.push_back(h);
  if (!broadcast && !remote_unknown) {
    round.done = true;
    round.holders = record_holders(r);
    release_in_order(r.user);
    return;
  }
  if (!broadcast) {
    // Table mode for a user whose other networks are unknown: ask the index.
    round.index_only = true;
    env_.send(index_node(), make_message(PresenceQuery{r.user, h}));
  }
  if (answered(round)) {
    finish_presence(h, round);
    return;
  }
  round_deadlines_.emplace_back(round.deadline_us, h);
  tick_.want(env_, round.deadline_us);
}

bool ConsensusNode::answered(const PresenceRound& round) const {
  if (round.index_only) return round.flags.contains(index_node());
  return round.flags.size() == members_.size();
}

void ConsensusNode::on_presence_flag(NodeId from, const PresenceFlag& flag) {
  if (std::find(members_.begin(), members_.end(), from) == members_.end()) return;
  auto it = rounds_.find(flag.record_hash);
  if (it == rounds_.end()) {
    if (rounds_.size() >= kMaxPresenceRounds || queued_.contains(flag.record_hash)) return;
    it = rounds_.emplace(flag.record_hash, PresenceRound{}).first;
    it->second.deadline_us = env_.now_us() + params().presence_timeout_us;
    round_deadlines_.emplace_back(it->second.deadline_us, flag.record_hash);
    tick_.want(env_, it->second.deadline_us);
  }
  PresenceRound& round = it->second;
  bool present = flag.present;
  if (from == index_node()) {
    // Registrations are never undone: once elsewhere, an index flag saying
    // otherwise is older than what this node knows.
    const SharingTable::Row* row = table_.find(flag.user);
    present = present || (row && row->remote.value_or(false));
    WriteBatch b;
    if (table_.set_remote(b, flag.user, present)) env_.store().write(b);
  }
  round.flags[from] = present;
  if (round.record && !round.done && answered(round)) finish_presence(it->first, round);
}

// Every member answered (or stopped answering): the record goes to the
// nodes that said they hold its user.
void ConsensusNode::finish_presence(const Hash&, PresenceRound& round) {
  MHR_ASSERT(round.record.has_value() && !round.done);
  const Record& r = *round.record;
  const SharingTable::Row* row = table_.find(r.user);
  if (round.index_only) {
    round.holders = record_holders(r);
    auto f = round.flags.find(index_node());
    if (f == round.flags.end() || f->second) insert_sorted(round.holders, index_node());
    round.done = true;
    release_in_order(r.user);
    return;
  }
  for (NodeId m : members_) {
    auto f = round.flags.find(m);
    // A silent index node gets the record anyway: it forwards only to
    // networks where the user is registered, so nothing leaks, and nothing
    // is lost while it was down. A record node holds the user if a
    // committed registration says so: a flag may be older than the
    // registration that followed it, and one the table does not confirm is
    // wrong (replicas refuse a block that sends a record there).
    bool present = f != round.flags.end() && f->second;
    if (m == index_node()) {
      // Once elsewhere, always: a flag may predate what the table says.
      // Silent, it gets the record even where the table says "nowhere
      // else": in a group only the leader of the moment hears of a
      // registration elsewhere (pipelined group sweep, seed 3085).
      present = present || f == round.flags.end() || (row && row->remote.value_or(false));
    } else {
      present = table_.holds(r.user, m);
    }
    if (present) round.holders.push_back(m);
  }
  std::sort(round.holders.begin(), round.holders.end());
  round.done = true;
  release_in_order(r.user);
}

void ConsensusNode::release_in_order(const UserId& user) {
  auto it = in_order_.find(user);
  MHR_ASSERT(it != in_order_.end());
  OpenOrder& order = it->second;
  while (order.released < order.hashes.size()) {
    const Hash h = order.hashes[order.released];
    auto round = rounds_.find(h);
    MHR_ASSERT(round != rounds_.end());
    if (!round->second.done) {
      if (order.released > order.hashes.size() / 2) {  // amortised: each hash moves O(1) times
        order.hashes.erase(order.hashes.begin(), order.hashes.begin() + order.released);
        order.released = 0;
      }
      return;
    }
    PresenceRound& done = round->second;
    enqueue({std::move(*done.record), h, done.origin, std::move(done.holders)});
    rounds_.erase(round);
    ++order.released;
  }
  in_order_.erase(it);
}

void ConsensusNode::on_tx_request(NodeId from, const TxRequest& req) {
  if (const auto* reg = std::get_if<Registration>(&req.tx)) {
    on_registration(from, *reg);
  } else {
    on_audit_anchor(from, std::get<AuditAnchor>(req.tx));
  }
}

void ConsensusNode::on_registration(NodeId from, const Registration& reg) {
  Hash h = entry_hash(Entry{reg});
  if (queued_.contains(h)) return;
  if (table_.holds(reg.user, reg.node)) {
    confirm_if_delivered(from, h);
    return;
  }
  const bool valid = from == reg.node && reg.network == network_ && is_own_record_node(reg.node) &&
                     topology_->node(reg.node).key == reg.node_key &&
                     verify_registration_signature(reg, env_.verifier());
  if (!valid) {
    env_.send(from, make_message(Rejected{h, RejectReason::kBadSignature, std::nullopt}));
    return;
  }
  Holders holders{reg.node, index_node()};
  std::sort(holders.begin(), holders.end());
  enqueue({reg, h, from, std::move(holders)});
}

// Only the anchoring node keeps its anchor: it proves its own audit chain.
void ConsensusNode::on_audit_anchor(NodeId from, const AuditAnchor& anchor) {
  Hash h = entry_hash(Entry{anchor});
  if (queued_.contains(h)) return;
  if (env_.store().get(Table::kRecordIndex, h.view())) {
    confirm_if_delivered(from, h);
    return;
  }
  const bool valid = from == anchor.node && anchor.network == network_ &&
                     is_own_record_node(anchor.node) &&
                     topology_->node(anchor.node).key == anchor.node_key &&
                     verify_anchor_signature(anchor, env_.verifier());
  if (!valid) {
    env_.send(from, make_message(Rejected{h, RejectReason::kBadSignature, std::nullopt}));
    return;
  }
  enqueue({anchor, h, from, {anchor.node}});
}

// An entry ordered before: confirmed once its block reached every holder.
void ConsensusNode::confirm_if_delivered(NodeId from, const Hash& h) {
  auto place = env_.store().get(Table::kRecordIndex, h.view());
  if (!place || !outgoing_.contains(own_key(read_be64(*place))))
    env_.send(from, make_message(Committed{{h}}));
}

bool ConsensusNode::is_own_record_node(NodeId id) const {
  return topology_->has_node(id) && topology_->node(id).role == NodeRole::kRecord &&
         topology_->node(id).network == network_;
}

Holders ConsensusNode::record_holders(const Record& r) const {
  if (!sparse())
    return Holders(members_.begin(), members_.end());  // full: every record node and the index
  const std::vector<NodeId>& listed = table_.holders(r.user);
  Holders holders(listed.begin(), listed.end());
  const SharingTable::Row* row = table_.find(r.user);
  if (row && row->remote.value_or(false)) insert_sorted(holders, index_node());
  return holders;
}

// ---- blocks ---------------------------------------------------------------------------

void ConsensusNode::enqueue(PlacedEntry p) {
  queued_.insert(p.hash);
  queue_.push_back(std::move(p));
  if (queue_.size() >= params().block_max_entries) {
    build_block();
  } else {
    block_timer_.want(env_, env_.now_us() + block_wait_us());
  }
}

// A group's leader with nothing in flight proposes at the next turn: the
// height in flight is what batches a group's entries (each block carries
// what came while the one before committed), and a block timer on top of
// it would only add latency. A single node commits at once, so only its
// timer batches.
TimeUs ConsensusNode::block_wait_us() const {
  return group() && agreement_.can_propose() ? 0 : params().block_timeout_us;
}

// Leader: the queued entries go into the next block, proposed to the
// group. A single consensus node commits it at once and goes on; a group
// has one block in flight and proposes the one above it once that one is
// prepared here.
void ConsensusNode::build_block() {
  if (building_) return;
  building_ = true;
  while (!queue_.empty() && outgoing_.size() < kMaxOutgoingBlocks) {
    if (!agreement_.can_propose()) {
      block_due_ = true;
      if (agreement_.can_propose_next()) propose_next_block();
      break;
    }
    block_due_ = false;
    std::vector<PlacedEntry> entries = take_queued({});
    if (group()) drop_stale(entries);
    if (entries.empty()) continue;
    const BlockHeader header =
        block_header(entries, agreement_.next_height(), tip_ ? header_hash(tip_->header) : Hash{});
    SharedBytes body(encode_block_body(entries));
    inflight_.emplace(header_hash(header), std::move(entries));
    act(agreement_.propose(header, std::move(body), delivered_below()));
  }
  building_ = false;
  // Entries the time-out should not wait for a fresh one to pick up.
  if (!queue_.empty() && !block_due_)
    block_timer_.want(env_, env_.now_us() + params().block_timeout_us);
}

// Leader: the block above the one in flight, proposed while that one
// commits. Replicas check it against the chain with the block below
// committed; it leaves out the users that block touches, and for all others
// that chain is the one this leader sees now.
void ConsensusNode::propose_next_block() {
  const BlockHeader* below = agreement_.in_flight_header();
  MHR_ASSERT(below != nullptr);
  const Hash below_hash = header_hash(*below);
  if (!inflight_ || inflight_->first != below_hash) return;  // not built here (a restart)
  std::set<UserId> busy;
  for (const PlacedEntry& p : inflight_->second)
    if (const UserId* user = user_of(p.entry)) busy.insert(*user);
  std::vector<PlacedEntry> entries = take_queued(busy);
  drop_stale(entries);
  if (entries.empty()) return;
  const BlockHeader header = block_header(entries, below->height + 1, below_hash);
  SharedBytes body(encode_block_body(entries));
  next_inflight_.emplace(header_hash(header), std::move(entries));
  env_.count(Counter::kBlocksPipelined);
  act(agreement_.propose_next(header, std::move(body), delivered_below()));
}

// Up to a block of queued entries, in order, leaving those of `skipped`
// users queued.
std::vector<PlacedEntry> ConsensusNode::take_queued(const std::set<UserId>& skipped) {
  const std::size_t limit = params().block_max_entries;
  MHR_ASSERT(limit <= kMaxBlockEntries);
  std::vector<PlacedEntry> taken;
  auto kept = queue_.begin();
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    const UserId* user = user_of(it->entry);
    if (taken.size() < limit && !(user && skipped.contains(*user))) {
      taken.push_back(std::move(*it));
    } else {
      if (kept != it) *kept = std::move(*it);
      ++kept;
    }
  }
  queue_.erase(kept, queue_.end());
  return taken;
}

// The header of a block of `entries`, whose holders it settles first: as the
// committed table says now (a registration may have committed since the
// presence round), plus the index node if the round gave the record to it:
// what every replica checks.
BlockHeader ConsensusNode::block_header(std::vector<PlacedEntry>& entries, std::uint64_t height,
                                        const Hash& prev_hash) const {
  std::vector<Hash> leaves;
  leaves.reserve(entries.size());
  for (PlacedEntry& p : entries) {
    if (const auto* r = std::get_if<Record>(&p.entry); r && sparse()) {
      const bool index = std::binary_search(p.holders.begin(), p.holders.end(), index_node());
      const std::vector<NodeId>& listed = table_.holders(r->user);
      p.holders.assign(listed.begin(), listed.end());
      if (index) insert_sorted(p.holders, index_node());
    }
    leaves.push_back(p.hash);
  }
  return BlockHeader{network_,
                     height,
                     prev_hash,
                     merkle_root(leaves),
                     static_cast<std::uint32_t>(leaves.size()),
                     env_.now_us(),
                     env_.self(),
                     placement_hash(entries)};
}

// A leader that took over, or caught up while leading, may hold requests
// that blocks committed meanwhile made stale: replicas would refuse a block
// with them, so they go (their origins hear the truth when they retry).
void ConsensusNode::drop_stale(std::vector<PlacedEntry>& entries) {
  std::map<UserId, std::optional<ChainTip>> tips;
  std::set<UserId> broken;
  auto stale = [&](const PlacedEntry& p) {
    if (env_.store().get(Table::kRecordIndex, p.hash.view())) return true;
    const auto* r = std::get_if<Record>(&p.entry);
    if (!r) return false;
    auto [t, fresh] = tips.try_emplace(r->user);
    if (fresh) t->second = committed_tip(env_.store(), r->user);
    if (broken.contains(r->user) || r->sequence != (t->second ? t->second->sequence + 1 : 0) ||
        chain_continuity_error(*r, t->second)) {
      broken.insert(r->user);
      return true;
    }
    t->second = ChainTip{r->sequence, p.hash};
    return false;
  };
  auto kept = std::remove_if(entries.begin(), entries.end(), [&](const PlacedEntry& p) {
    if (!stale(p)) return false;
    queued_.erase(p.hash);
    if (const auto* r = std::get_if<Record>(&p.entry)) projected_.erase(r->user);
    return true;
  });
  entries.erase(kept, entries.end());
}

// Works out who waits for what and sends every member its delivery.
void ConsensusNode::track(Outgoing& out) {
  const bool own = out.header.header.network == network_;
  out.unacked_holders.assign(out.entries.size(), 0);
  for (std::uint32_t i = 0; i < out.entries.size(); ++i) {
    for (NodeId m : out.entries[i].holders) {
      out.entries_of[m].push_back(i);
      ++out.unacked_holders[i];
    }
  }
  if (own) {
    out.waiting.insert(members_.begin(), members_.end());
  } else {
    for (const auto& [m, idx] : out.entries_of) out.waiting.insert(m);
  }
  out.attempts = 0;
  deliver(out, out.waiting);
}

void ConsensusNode::deliver(Outgoing& out, const MemberSet& to) {
  MessagePtr header_only;
  for (NodeId m : to) {
    auto it = out.entries_of.find(m);
    if (it == out.entries_of.end()) {
      if (!header_only) header_only = make_message(BlockDelivery{out.header, {}, std::nullopt});
      env_.send(m, header_only);
      continue;
    }
    BlockDelivery d{out.header, {}, m};
    d.entries.reserve(it->second.size());
    for (std::uint32_t i : it->second) d.entries.push_back({out.entries[i].entry, out.proofs[i]});
    MessagePtr message = make_message(std::move(d));
    if (out.forwarded_by) expect_ack(out, m, message_hash(*message));
    env_.send(m, std::move(message));
  }
  out.next_at_us = env_.now_us() + backoff_us(params(), ++out.attempts);
  tick_.want(env_, out.next_at_us);
}

void ConsensusNode::on_delivery_ack(NodeId from, const DeliveryAck& ack) {
  if (ack.network != network_) return;  // foreign deliveries are acknowledged by content
  const OutgoingKey key = own_key(ack.height);
  auto it = outgoing_.find(key);
  if (it == outgoing_.end() || it->second.header_hash != ack.header_hash) return;
  Outgoing& out = it->second;
  if (out.waiting.erase(from) == 0) return;
  on_entries_acked(out, from);
  if (out.waiting.empty()) finish_outgoing(key);
}

// A foreign delivery's member owes an Ack naming what it was sent last.
void ConsensusNode::expect_ack(Outgoing& out, NodeId member, const Hash& ack) {
  const OutgoingKey key{out.header.header.network, out.header.header.height, out.delivery_hash};
  auto [it, fresh] = out.ack_hash.try_emplace(member, ack);
  if (!fresh) {
    if (it->second == ack) return;
    forget_ack(member, it->second, key);  // an Ack of less content no longer counts
    it->second = ack;
  }
  foreign_acks_[{member, ack}].insert(key);
}

void ConsensusNode::forget_ack(NodeId member, const Hash& ack, const OutgoingKey& key) {
  auto waiting = foreign_acks_.find({member, ack});
  if (waiting == foreign_acks_.end()) return;
  waiting->second.erase(key);
  if (waiting->second.empty()) foreign_acks_.erase(waiting);
}

// A node now holds the user here: records of the user still being
// distributed from other networks go to it too (it may have missed them).
void ConsensusNode::join_foreign(const UserId& user, NodeId node) {
  for (auto& [key, out] : outgoing_) {
    if (!out.forwarded_by) continue;
    bool added = false;
    for (std::uint32_t i = 0; i < out.entries.size(); ++i) {
      PlacedEntry& p = out.entries[i];
      const auto* r = std::get_if<Record>(&p.entry);
      if (!r || r->user != user || std::binary_search(p.holders.begin(), p.holders.end(), node))
        continue;
      insert_sorted(p.holders, node);
      out.entries_of[node].push_back(i);
      added = true;
    }
    if (!added) continue;
    out.waiting.insert(node);
    deliver(out, {node});
  }
}

void ConsensusNode::on_foreign_ack(NodeId from, const Ack& ack) {
  auto found = foreign_acks_.find({from, ack.message_hash});
  if (found == foreign_acks_.end()) return;
  const std::set<OutgoingKey> keys = std::move(found->second);
  foreign_acks_.erase(found);
  for (const OutgoingKey& key : keys) {
    auto it = outgoing_.find(key);
    if (it == outgoing_.end() || it->second.waiting.erase(from) == 0) continue;
    if (it->second.waiting.empty()) finish_outgoing(key);
  }
}

// Confirms to their origins the entries every holder now has.
void ConsensusNode::on_entries_acked(Outgoing& out, NodeId member) {
  if (out.header.header.network != network_) return;
  auto it = out.entries_of.find(member);
  if (it == out.entries_of.end()) return;
  std::map<NodeId, std::vector<Hash>> by_origin;
  for (std::uint32_t i : it->second) {
    MHR_ASSERT(out.unacked_holders[i] > 0);
    if (--out.unacked_holders[i] == 0)
      by_origin[out.entries[i].origin].push_back(out.entries[i].hash);
  }
  confirm(by_origin);
}

void ConsensusNode::confirm(const std::map<NodeId, std::vector<Hash>>& by_origin) {
  for (const auto& [origin, hashes] : by_origin) {
    for (std::size_t i = 0; i < hashes.size(); i += kMaxCommittedHashes) {
      auto end = hashes.begin() +
                 static_cast<std::ptrdiff_t>(std::min(hashes.size(), i + kMaxCommittedHashes));
      env_.send(origin,
                make_message(Committed{{hashes.begin() + static_cast<std::ptrdiff_t>(i), end}}));
    }
  }
}

void ConsensusNode::finish_outgoing(const OutgoingKey& key) {
  auto it = outgoing_.find(key);
  MHR_ASSERT(it != outgoing_.end());
  const auto& [network, height, delivery_hash] = key;
  WriteBatch b;
  if (network == network_) {
    b.del(Table::kPending, outgoing_key(height));
    undelivered_.erase(height);
  } else {
    b.del(Table::kPending, foreign_key(network, height, delivery_hash));
    for (const auto& [member, ack] : it->second.ack_hash) forget_ack(member, ack, key);
    // The index node, and the replicas, which may be watching it (the
    // index node hands a block to them when the leader is slow).
    MessagePtr ack = make_message(Ack{delivery_hash});
    if (it->second.forwarded_by) env_.send(*it->second.forwarded_by, ack);
    if (group())
      for (NodeId r : topology_->network(network_).consensus_nodes)
        if (r != env_.self()) env_.send(r, ack);
  }
  env_.store().write(b);
  outgoing_.erase(it);
  // Room again after back-pressure: a full block goes now, a partial one
  // waits for its time-out as usual.
  if (queue_.size() >= params().block_max_entries) build_block();
}

void ConsensusNode::on_catch_up(NodeId from, const CatchUpRequest& req) {
  if (req.network != network_ ||
      std::find(members_.begin(), members_.end(), from) == members_.end())
    return;
  std::uint64_t end = std::min(height(), req.from_height + kCatchUpBlocks);
  for (std::uint64_t h = req.from_height; h < end; ++h) {
    if (auto it = outgoing_.find(own_key(h)); it != outgoing_.end()) {
      deliver(it->second, {from});
      continue;
    }
    auto sh = chain_.header(network_, h);
    auto body = env_.store().get(Table::kBlocks, header_key(network_, h));
    MHR_ASSERT_MSG(sh.has_value(), "committed block header missing from the store");
    auto entries = stored::body(body);
    std::vector<Hash> leaves;
    for (const auto& p : entries) leaves.push_back(p.hash);
    MerkleTree tree(leaves);
    BlockDelivery d{*sh, {}, from};
    for (std::uint32_t i = 0; i < entries.size(); ++i)
      if (std::binary_search(entries[i].holders.begin(), entries[i].holders.end(), from))
        d.entries.push_back({entries[i].entry, tree.prove(i)});
    env_.send(from, make_message(std::move(d)));
  }
}

// ---- across networks ----------------------------------------------------------------------

// Records another network forwarded through our index node: hand each to
// the holders of its user here, under its origin network's header.
void ConsensusNode::on_foreign_delivery(NodeId from, const BlockDelivery& d) {
  const BlockHeader& h = d.header.header;
  if (from != index_node() || h.network == network_) return;
  Bytes encoded = encode(Message{d});
  const OutgoingKey key{h.network, h.height, sha256(encoded)};
  if (outgoing_.contains(key)) return;  // already distributing; acked when done
  if (header_error(d.header, *topology_, env_.verifier())) {
    env_.count(Counter::kVerifyFailures);
    return;
  }
  Outgoing out;
  out.header = d.header;
  out.header_hash = header_hash(h);
  out.delivery_hash = std::get<2>(key);
  out.forwarded_by = from;
  WriteBatch b;
  for (const ProvenEntry& pe : d.entries) {
    const Record* r = std::get_if<Record>(&pe.entry);
    const Hash rh = r ? record_hash(*r) : Hash{};
    if (!r || record_entry_error(*r, rh, pe.proof, h, *topology_, env_.verifier())) {
      env_.count(Counter::kVerifyFailures);
      continue;
    }
    const std::vector<NodeId>& listed =
        sparse() ? table_.holders(r->user) : topology_->network(network_).record_nodes;
    Holders holders(listed.begin(), listed.end());
    erasure_.on_foreign_record(b, *r);
    out.entries.push_back({*r, rh, from, std::move(holders)});
    out.proofs.push_back(pe.proof);
  }
  b.put(Table::kPending, foreign_key(h.network, h.height, out.delivery_hash), encoded);
  env_.store().write(b);
  auto& placed = outgoing_[key] = std::move(out);
  track(placed);
  if (placed.waiting.empty()) finish_outgoing(key);  // nobody here holds its users
}

void ConsensusNode::on_remote_presence(NodeId from, const RemotePresence& p) {
  if (from != index_node()) return;
  WriteBatch b;
  if (table_.set_remote(b, p.user, p.present)) env_.store().write(b);
  env_.send(from, make_message(Ack{sha256(encode(Message{p}))}));
}

// ---- migration and off-chain objects: choose who answers, relay the answer back -----------

template <class Request>
void ConsensusNode::route_to_holder(NodeId from, const Request& req) {
  if (req.route.empty() || req.route.size() >= kMaxRouteHops || req.route.back() != from) return;
  // A member asking for this network's chain: this node ordered every
  // record of it, so its answer is complete (a holder's may lag).
  if constexpr (std::is_same_v<Request, HistoryRequest>) {
    if (req.route.size() == 1 && !req.remote && (from == index_node() || is_own_record_node(from)))
      return answer_own_chain(from, req);
  }
  std::vector<NodeId> candidates;
  const bool ours = from != index_node();
  if (!(ours && req.remote))
    for (NodeId n : table_.holders(req.user))
      if (n != req.route.front()) candidates.push_back(n);
  Request next = req;
  next.route.push_back(env_.self());
  if (!candidates.empty()) {
    env_.send(candidates[req.request_id % candidates.size()], make_message(std::move(next)));
  } else if (ours) {
    env_.send(index_node(), make_message(std::move(next)));  // look in other networks
  } else {
    env_.send(from, make_message(empty_answer(req)));
  }
}

template <class Answer>
void ConsensusNode::relay_back(const Answer& answer) {
  if (auto next = step_back(answer, env_.self())) {
    const NodeId to = next->route.back();
    env_.send(to, make_message(std::move(*next)));
  }
}

// The index node asks for the chain it owes another network: the user is
// registered elsewhere now. Every record of the user not yet in a block goes
// to the index node too (it forwards it); the page has all the others.
void ConsensusNode::claim_for_index(const UserId& user) {
  WriteBatch b;
  if (table_.set_remote(b, user, true)) env_.store().write(b);
  for (PlacedEntry& p : queue_) {
    const auto* r = std::get_if<Record>(&p.entry);
    if (r && r->user == user) insert_sorted(p.holders, index_node());
  }
  auto open = in_order_.find(user);
  if (open == in_order_.end()) return;
  for (const Hash& h : open->second.open()) {
    PresenceRound& round = rounds_.at(h);
    round.flags[index_node()] = true;
    if (round.done) insert_sorted(round.holders, index_node());
  }
}

void ConsensusNode::answer_own_chain(NodeId to, const HistoryRequest& req) {
  if (to == index_node() && sparse()) claim_for_index(req.user);
  std::uint64_t from_sequence = 0;
  for (const KnownChain& k : req.known)
    if (k.network == network_) from_sequence = k.next_sequence;
  auto tip = committed_tip(env_.store(), req.user);
  HistoryBatch page = own_chain_page(chain_, network_, req.user, from_sequence, tip);
  page.request_id = req.request_id;
  page.route = req.route;
  env_.send(to, make_message(std::move(page)));
}

// ---- retries -------------------------------------------------------------------------------

void ConsensusNode::on_timer(TimerId id, std::uint64_t) {
  if (block_timer_.fired(id)) {
    if (leading()) build_block();
    return;
  }
  if (tick_.fired(id)) on_tick();
  if (group_timer_.fired(id)) on_group_tick();
}

// Rounds whose time-out passed: ask the silent members again, or decide
// without them after the last attempt.
void ConsensusNode::expire_rounds(TimeUs now) {
  while (!round_deadlines_.empty() && round_deadlines_.front().first <= now) {
    const auto [deadline, h] = round_deadlines_.front();
    round_deadlines_.pop_front();
    auto it = rounds_.find(h);
    if (it == rounds_.end() || it->second.done || it->second.deadline_us != deadline) continue;
    PresenceRound& round = it->second;
    if (!round.record) {  // flags for a record that never came
      rounds_.erase(it);
      continue;
    }
    if (++round.attempts >= kMaxPresenceAttempts) {
      finish_presence(h, round);
      continue;
    }
    env_.count(Counter::kRetries);
    auto query = make_message(PresenceQuery{round.record->user, h});
    if (round.index_only) {
      env_.send(index_node(), query);
    } else {
      for (NodeId m : members_)
        if (!round.flags.contains(m)) env_.send(m, query);
    }
    round.deadline_us = now + params().presence_timeout_us;
    round_deadlines_.emplace_back(round.deadline_us, h);
  }
}

void ConsensusNode::on_tick() {
  const TimeUs now = env_.now_us();
  TimeUs next = INT64_MAX;
  expire_rounds(now);
  if (!round_deadlines_.empty()) next = round_deadlines_.front().first;
  std::vector<OutgoingKey> abandoned;
  for (auto& [key, out] : outgoing_) {
    if (out.next_at_us <= now) {
      if (out.attempts >= params().max_attempts) {
        abandoned.push_back(key);
        continue;
      }
      env_.count(Counter::kRetries);
      const MemberSet to = out.waiting;
      deliver(out, to);
    }
    next = std::min(next, out.next_at_us);
  }
  for (const auto& key : abandoned) {
    // Members still silent catch up when they return (CatchUpRequest).
    env_.count(Counter::kGaveUp);
    Outgoing& out = outgoing_.at(key);
    const MemberSet silent = out.waiting;
    for (NodeId m : silent) on_entries_acked(out, m);
    out.waiting.clear();
    finish_outgoing(key);
  }
  if (next != INT64_MAX) tick_.want(env_, next);
}

}  // namespace mhr
