#include "index_node/index_node.hpp"

#include "common/backoff.hpp"
#include "common/verification.hpp"

namespace mhr {

namespace {

constexpr std::uint64_t kTickTag = 1;
constexpr std::uint8_t kOutboxTag = 'm';   // kPending: membership / presence messages
constexpr std::uint8_t kHandoffTag = 'd';  // kPending: deliveries to hand on

Bytes handoff_key(NodeId to, NetworkId network, std::uint64_t height) {
  Bytes id;
  append_be32(id, to.value);
  Bytes rest = header_key(network, height);
  id.insert(id.end(), rest.begin(), rest.end());
  return tagged_key(kHandoffTag, id);
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
      tick_(kTickTag, kRetryTickQuantumUs) {
  MHR_ASSERT(topology_->node(env.self()).role == NodeRole::kIndex);
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
    const BlockHeader h = std::get<BlockDelivery>(m.value()).header.header;
    handoffs_[{to, h.network, h.height}] = {to, make_message(std::move(m).value()), ack_to, 0,
                                            env_.now_us()};
    return true;
  });
  follower_.request_catch_up();
  tick_.want(env_, env_.now_us());
}

void IndexNode::on_client(ClientRequestId id, const ClientRequest&) {
  env_.reply(id, make_reply(ReplyStatus::kRejected, "index nodes take no client requests"));
}

void IndexNode::on_message(NodeId from, const Message& message) {
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
        if constexpr (std::is_same_v<T, DeliveryAck>) on_delivery_ack(from, m);
        if constexpr (std::is_same_v<T, MembershipUpdate>) on_membership(from, m);
        if constexpr (std::is_same_v<T, PresenceQuery>) on_presence_query(m);
        if constexpr (std::is_same_v<T, HistoryRequest> || std::is_same_v<T, BlobRequest>)
          route_across(from, m);
        if constexpr (std::is_same_v<T, HistoryBatch> || std::is_same_v<T, BlobPart>) relay_back(m);
        if constexpr (std::is_same_v<T, Ack>) on_ack(from, m);
      },
      message);
  if (outbox_.size() > 0 || !handoffs_.empty())
    tick_.want(env_, env_.now_us() + params().retry_timeout_us);
}

// ---- own network: registrations and records to forward ------------------------------

void IndexNode::on_own_delivery(NodeId from, const BlockDelivery& d) {
  if (from != consensus_ || header_error(d.header, *topology_, env_.verifier())) {
    env_.count(Counter::kVerifyFailures);
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
  std::vector<UserId> registered;  // new here: told to the other index nodes at once
  for (const ProvenEntry& pe : d.entries) {
    if (entry_error(pe, header, *topology_, env_.verifier())) {
      env_.count(Counter::kVerifyFailures);
      continue;
    }
    if (const auto* reg = std::get_if<Registration>(&pe.entry)) {
      if (learn_registration(batch, reg->user, network_)) registered.push_back(reg->user);
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
      auto [it, fresh] = forwards.try_emplace(t, BlockDelivery{d.header, {}});
      it->second.entries.push_back(pe);
    }
  }
  for (auto& [target, delivery] : forwards) {
    env_.count(Counter::kRecordsForwarded, static_cast<std::int64_t>(delivery.entries.size()));
    hand_off(batch, topology_->index_of(target), delivery, std::nullopt);
  }
  env_.store().write(batch);
  for (const auto& [target, delivery] : forwards) {
    Handoff& h = handoffs_.at({topology_->index_of(target), header.network, header.height});
    transmit(h);
  }
  std::set<std::pair<NodeId, Hash>> waiting = announce(registered);
  if (waiting.empty()) return ChainFollower::Applied::kStored;
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
  for (auto it = announcing_.begin(); it != announcing_.end();) {
    it->second.waiting.erase({from, ack.message_hash});
    if (it->second.waiting.empty()) {
      follower_.ack(consensus_, it->second.header);
      it = announcing_.erase(it);
    } else {
      ++it;
    }
  }
}

// True when the user is new in that network.
bool IndexNode::learn_registration(WriteBatch& batch, const UserId& user, NetworkId network) {
  const bool was_elsewhere = present_elsewhere(user);
  if (!table_.add(batch, user, network)) return false;
  const bool now_elsewhere = present_elsewhere(user);
  if (params().presence == PresenceMode::kTable && table_.contains(user, network_) &&
      now_elsewhere != was_elsewhere)
    outbox_.send(consensus_, RemotePresence{user, now_elsewhere});
  return true;
}

bool IndexNode::present_elsewhere(const UserId& user) const {
  if (!sparse()) return topology_->network_count() > 1;
  for (NetworkId n : table_.networks(user))
    if (n != network_) return true;
  return false;
}

void IndexNode::on_membership(NodeId from, const MembershipUpdate& m) {
  if (!topology_->has_node(from) || topology_->node(from).role != NodeRole::kIndex ||
      topology_->network_of(from) != m.network)
    return;
  WriteBatch batch;
  for (const UserId& user : m.users) learn_registration(batch, user, m.network);
  if (!batch.empty()) env_.store().write(batch);
  env_.send(from, make_message(Ack{Outbox::message_hash(m)}));
}

void IndexNode::on_presence_query(const PresenceQuery& q) {
  env_.send(consensus_,
            make_message(PresenceFlag{q.user, q.record_hash, present_elsewhere(q.user)}));
}

// ---- forwarded records: relay to our consensus node ----------------------------------

void IndexNode::on_forwarded_delivery(NodeId from, const BlockDelivery& d) {
  const BlockHeader& h = d.header.header;
  if (!topology_->has_node(from) || from != topology_->index_of(h.network) ||
      header_error(d.header, *topology_, env_.verifier())) {
    env_.count(Counter::kVerifyFailures);
    return;
  }
  HandoffKey key{consensus_, h.network, h.height};
  if (!handoffs_.contains(key)) {
    WriteBatch batch;
    hand_off(batch, consensus_, d, from);
    env_.store().write(batch);
    transmit(handoffs_.at(key));
  }
}

void IndexNode::hand_off(WriteBatch& batch, NodeId to, const BlockDelivery& d,
                         std::optional<NodeId> ack_to) {
  const BlockHeader& h = d.header.header;
  Writer w;
  w.varint(to.value);
  w.boolean(ack_to.has_value());
  if (ack_to) w.varint(ack_to->value);
  w.fixed(encode(Message{d}));
  batch.put(Table::kPending, handoff_key(to, h.network, h.height), w.data());
  handoffs_[{to, h.network, h.height}] = {to, make_message(d), ack_to, 0, 0};
}

void IndexNode::transmit(Handoff& h) {
  env_.send(h.to, h.delivery);
  h.attempts = std::min(h.attempts + 1, params().max_attempts);
  h.next_at_us = env_.now_us() + backoff_us(params(), h.attempts);
  tick_.want(env_, h.next_at_us);
}

void IndexNode::on_delivery_ack(NodeId from, const DeliveryAck& ack) {
  auto it = handoffs_.find({from, ack.network, ack.height});
  if (it == handoffs_.end()) return;
  const auto& d = std::get<BlockDelivery>(*it->second.delivery);
  if (header_hash(d.header.header) != ack.header_hash) return;
  // A relay is acknowledged to the forwarding index node once our
  // consensus node has it: custody passes hop by hop, never dropped.
  if (it->second.ack_to) env_.send(*it->second.ack_to, make_message(ack));
  WriteBatch batch;
  batch.del(Table::kPending, handoff_key(from, ack.network, ack.height));
  env_.store().write(batch);
  handoffs_.erase(it);
}

// ---- migration across networks ------------------------------------------------------------

template <class Request>
void IndexNode::route_across(NodeId from, const Request& req) {
  if (req.route.empty() || req.route.size() >= kMaxRouteHops || req.route.back() != from) return;
  Request next = req;
  next.route.push_back(env_.self());
  if (from != consensus_) {  // from another network's index node: ask our holders
    env_.send(consensus_, make_message(std::move(next)));
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

// ---- retries ------------------------------------------------------------------------------

void IndexNode::on_timer(TimerId id, std::uint64_t) {
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
  if (next != INT64_MAX) tick_.want(env_, next);
}

}  // namespace mhr
