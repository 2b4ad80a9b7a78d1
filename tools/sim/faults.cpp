#include "tools/sim/faults.hpp"

#include <algorithm>
#include <deque>
#include <set>

#include "common/sim/rng.hpp"
#include "consensus_node/consensus_node.hpp"
#include "edge_node/record_node.hpp"
#include "index_node/index_node.hpp"

namespace mhr {

namespace {

constexpr std::uint64_t kFaultStream = 0xFA017;

TimeUs between(Rng& rng, TimeUs lo, TimeUs hi) {
  return lo + static_cast<TimeUs>(rng.uniform_u64(static_cast<std::uint64_t>(hi - lo) + 1));
}

// Splits the networks in two (or, with one network, one node from the
// rest); with consensus groups, every other partition cuts off some
// replicas of one network from everything else instead.
std::vector<std::vector<NodeId>> split(const Scenario& s, Rng& rng) {
  std::vector<std::vector<NodeId>> groups(2);
  if (s.consensus_nodes > 1 && rng.uniform_u64(2) == 0) {
    const auto& net = s.layout.networks[rng.uniform_u64(s.network_count())];
    const std::uint32_t cut =
        1 + static_cast<std::uint32_t>(rng.uniform_u64(net.consensus_count - 1));
    std::vector<std::uint32_t> replicas(net.consensus_count);
    for (std::uint32_t i = 0; i < net.consensus_count; ++i) replicas[i] = net.first_consensus + i;
    for (std::size_t i = replicas.size() - 1; i > 0; --i)
      std::swap(replicas[i], replicas[rng.uniform_u64(i + 1)]);
    std::set<std::uint32_t> cut_off(replicas.begin(), replicas.begin() + cut);
    for (std::uint32_t n = 0; n < s.layout.node_count; ++n)
      groups[cut_off.contains(n) ? 0 : 1].push_back(NodeId{n});
    return groups;
  }
  const std::size_t networks = s.network_count();
  if (networks >= 2) {
    std::size_t cut = 1 + rng.uniform_u64(networks - 1);
    std::vector<std::uint32_t> order(networks);
    for (std::uint32_t i = 0; i < networks; ++i) order[i] = i;
    for (std::size_t i = networks - 1; i > 0; --i)
      std::swap(order[i], order[rng.uniform_u64(i + 1)]);
    for (std::size_t i = 0; i < networks; ++i)
      for (NodeId n : s.layout.nodes_of(order[i])) groups[i < cut ? 0 : 1].push_back(n);
    return groups;
  }
  std::vector<NodeId> nodes = s.layout.nodes_of(0);
  std::size_t lone = rng.uniform_u64(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) groups[i == lone ? 0 : 1].push_back(nodes[i]);
  return groups;
}

// `count` replicas, at most f of any group, each with a replica's behaviour.
void add_byzantine(Scenario& s, std::uint32_t count, Rng& rng) {
  static constexpr Scenario::Byzantine kReplicaBehaviours[] = {
      Scenario::Byzantine::kEquivocate,     Scenario::Byzantine::kWithholdVotes,
      Scenario::Byzantine::kWithholdBlocks, Scenario::Byzantine::kBadSignatures,
      Scenario::Byzantine::kWrongHolders,   Scenario::Byzantine::kLeakRecords,
      Scenario::Byzantine::kReplayOld,
  };
  const std::uint32_t f = (s.consensus_nodes - 1) / 3;
  std::vector<std::uint32_t> budget(s.network_count(), f);
  for (const auto& b : s.byzantine) {  // the scenario's own count too
    std::uint32_t& left = budget[s.layout.network_of(b.node).value];
    if (s.layout.role_of(b.node) == NodeRole::kConsensus && left > 0) --left;
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    std::vector<std::uint32_t> open;
    for (std::uint32_t n = 0; n < budget.size(); ++n)
      if (budget[n] > 0) open.push_back(n);
    if (open.empty()) return;
    const std::uint32_t net = open[rng.uniform_u64(open.size())];
    const auto& layout = s.layout.networks[net];
    std::vector<NodeId> honest;
    for (std::uint32_t k = 0; k < layout.consensus_count; ++k) {
      const NodeId id{layout.first_consensus + k};
      if (std::none_of(s.byzantine.begin(), s.byzantine.end(),
                       [&](const auto& b) { return b.node == id; }))
        honest.push_back(id);
    }
    MHR_ASSERT(!honest.empty());
    const auto behaviour = kReplicaBehaviours[rng.uniform_u64(std::size(kReplicaBehaviours))];
    s.byzantine.push_back({honest[rng.uniform_u64(honest.size())], behaviour});
    --budget[net];
  }
}

}  // namespace

Scenario with_random_faults(const Scenario& base, std::uint64_t seed) {
  Scenario s = base;
  const Scenario::RandomFaults& f = s.random_faults;
  if (!f.enabled) return s;
  Rng rng(mix_seed(seed, kFaultStream));
  const std::size_t nodes = s.node_count();
  for (std::uint32_t i = 0; i < f.crashes; ++i) {
    Scenario::Crash c;
    c.node = NodeId{static_cast<std::uint32_t>(rng.uniform_u64(nodes))};
    c.at_us = between(rng, f.from_us, f.to_us - 1);
    c.restart_us = c.at_us + between(rng, f.down_min_us, f.down_max_us);
    s.crashes.push_back(c);
  }
  s.intra.loss = std::max(s.intra.loss, rng.uniform_double() * f.loss_max);
  s.inter.loss = std::max(s.inter.loss, rng.uniform_double() * f.loss_max);
  s.intra.duplicate = std::max(s.intra.duplicate, rng.uniform_double() * f.duplicate_max);
  s.inter.duplicate = std::max(s.inter.duplicate, rng.uniform_double() * f.duplicate_max);
  for (std::uint32_t i = 0; i < f.partitions; ++i) {
    Scenario::Partition p;
    p.start_us = between(rng, f.from_us, f.to_us - 1);
    p.end_us = p.start_us + between(rng, f.partition_min_us, f.partition_max_us);
    p.groups = split(s, rng);
    s.partitions.push_back(std::move(p));
  }
  add_byzantine(s, f.byzantine, rng);
  return s;
}

namespace {

std::string seconds(TimeUs t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fs", static_cast<double>(t) / kUsPerSecond);
  return buf;
}

}  // namespace

std::string describe_crash(const Scenario& s, const Scenario::Crash& c) {
  return s.layout.name_of(c.node) + " crashes at " + seconds(c.at_us) +
         (c.restart_us ? ", restarts at " + seconds(*c.restart_us) : ", stays down");
}

std::vector<std::string> describe_faults(const Scenario& s) {
  std::vector<std::string> out;
  for (const auto& c : s.crashes) out.push_back(describe_crash(s, c));
  for (const auto& p : s.partitions) {
    std::string sizes;
    for (const auto& g : p.groups) sizes += (sizes.empty() ? "" : " | ") + std::to_string(g.size());
    out.push_back("partition of " + sizes + " nodes from " + seconds(p.start_us) + " to " +
                  seconds(p.end_us));
  }
  char buf[160];
  if (s.intra.loss > 0 || s.inter.loss > 0 || s.intra.duplicate > 0 || s.inter.duplicate > 0) {
    std::snprintf(buf, sizeof buf, "loss %.4f within, %.4f across networks; duplication %.4f, %.4f",
                  s.intra.loss, s.inter.loss, s.intra.duplicate, s.inter.duplicate);
    out.emplace_back(buf);
  }
  for (const auto& b : s.byzantine)
    out.push_back(s.layout.name_of(b.node) +
                  " is Byzantine: " + std::string(byzantine_behaviour_name(b.behaviour)));
  return out;
}

namespace {

void damage(Signature& s) {
  s.bytes[0] ^= 0x5A;
}

void damage(SignedHeader& sh) {
  for (HeaderSignature& sig : sh.signatures) damage(sig.signature);
}

// The node's Env, except that what it sends is altered as `b` says.
class LyingEnv final : public Env {
 public:
  LyingEnv(Env& inner, TopologyPtr topology, Scenario::Byzantine b)
      : inner_(inner), topology_(std::move(topology)), b_(b) {}

  NodeId self() const override { return inner_.self(); }
  TimeUs now_us() const override { return inner_.now_us(); }
  TimerId set_timer(TimeUs delay_us, std::uint64_t tag) override {
    return inner_.set_timer(delay_us, tag);
  }
  void cancel_timer(TimerId id) override { inner_.cancel_timer(id); }
  Store& store() override { return inner_.store(); }
  std::uint64_t random_u64() override { return inner_.random_u64(); }
  const Signer& signer() const override { return inner_.signer(); }
  const Verifier& verifier() const override { return inner_.verifier(); }
  void reply(ClientRequestId id, ClientReply reply) override { inner_.reply(id, std::move(reply)); }
  void count(Counter c, std::int64_t delta) override { inner_.count(c, delta); }
  void log(LogLevel level, std::string_view text) override { inner_.log(level, text); }

  void send(NodeId to, MessagePtr message) override {
    using B = Scenario::Byzantine;
    const Message& m = *message;
    switch (b_) {
      case B::kWithholdVotes:
        if (std::holds_alternative<Vote>(m) || std::holds_alternative<ViewChange>(m)) return;
        break;
      case B::kWithholdBlocks:
        if (std::holds_alternative<Proposal>(m) || std::holds_alternative<BlockDelivery>(m) ||
            std::holds_alternative<CommittedBlock>(m))
          return;
        break;
      case B::kBadSignatures:
        // An index node lies as an index chain replica: the edge blocks it
        // forwards stay intact (a Byzantine forwarder is another matter).
        if (std::holds_alternative<BlockDelivery>(m) &&
            topology_->node(inner_.self()).role == NodeRole::kIndex)
          break;
        if (auto bad = damaged(m)) message = make_message(std::move(*bad));
        break;
      case B::kEquivocate:
        // Half the group sees another block at the same height and view,
        // as validly signed and as valid as the first.
        if (const auto* p = std::get_if<Proposal>(&m); p && to.value % 2 == 1) {
          Proposal other = *p;
          other.header.time_us += 1;
          other.prepare = inner_.signer().sign(prepare_signing_bytes(
              other.header.network, other.view, other.header.height, header_hash(other.header)));
          message = make_message(std::move(other));
        }
        break;
      case B::kWrongHolders:
        if (const auto* p = std::get_if<Proposal>(&m))
          message = make_message(with_extra_holder(*p));
        break;
      case B::kLeakRecords:
        // Each record to the holders and to every other record node too.
        if (const auto* d = std::get_if<BlockDelivery>(&m);
            d && !d->entries.empty() && d->header.header.network == network()) {
          for (NodeId n : topology_->network(network()).record_nodes)
            if (n != to) inner_.send(n, message);
        }
        break;
      case B::kForgedPresence:
        if (const auto* f = std::get_if<PresenceFlag>(&m)) {
          PresenceFlag lie = *f;
          lie.present = !lie.present;
          message = make_message(lie);
        }
        break;
      case B::kReplayOld:
        replay_old(to, message);
        break;
      case B::kForgedMembership:
        if (const auto* s = std::get_if<IndexSubmit>(&m))
          message = make_message(with_forgeries(*s));
        break;
    }
    inner_.send(to, std::move(message));
  }

 private:
  static std::optional<Message> damaged(const Message& m) {
    return std::visit(
        [](auto c) -> std::optional<Message> {
          using T = decltype(c);
          if constexpr (std::is_same_v<T, Proposal>) {
            damage(c.prepare);
          } else if constexpr (std::is_same_v<T, Vote> || std::is_same_v<T, ViewChange>) {
            damage(c.signature);
          } else if constexpr (std::is_same_v<T, BlockDelivery> ||
                               std::is_same_v<T, CommittedBlock>) {
            damage(c.header);
          } else {
            return std::nullopt;
          }
          return Message{std::move(c)};
        },
        m);
  }

  NetworkId network() const { return topology_->network_of(inner_.self()); }

  // Keeps what it sends; every fourth message, sends again the oldest one
  // kept (votes, proposals, deliveries, acknowledgements of long ago) to
  // whom it went then.
  void replay_old(NodeId to, const MessagePtr& message) {
    static constexpr std::size_t kKept = 64;
    if (sent_.size() == kKept) {
      if (++sends_ % 4 == 0) inner_.send(sent_.front().first, sent_.front().second);
      sent_.pop_front();
    }
    sent_.emplace_back(to, message);
  }

  // The submission with, for each membership, two it cannot prove: another
  // patient under the same proof, and the patient at another record node.
  IndexSubmit with_forgeries(const IndexSubmit& s) const {
    IndexSubmit out = s;
    const auto& record_nodes = topology_->network(network()).record_nodes;
    for (const IndexTx& tx : s.txs) {
      const auto* m = std::get_if<Membership>(&tx);
      if (!m || out.txs.size() + 2 > kMaxIndexBlockTxs) continue;
      Membership other_user = *m;
      other_user.user.bytes[0] ^= 0x5a;
      out.txs.push_back(other_user);
      Membership other_node = *m;
      other_node.node = record_nodes[(std::find(record_nodes.begin(), record_nodes.end(), m->node) -
                                      record_nodes.begin() + 1) %
                                     record_nodes.size()];
      if (other_node.node != m->node) out.txs.push_back(other_node);
    }
    return out;
  }

  // The proposal with one more holder for every record, one where the user
  // is not registered, and the header and signature to match.
  Proposal with_extra_holder(const Proposal& p) const {
    auto entries = decode_block_body(p.body.view());
    MHR_ASSERT(entries.ok());
    const auto& record_nodes = topology_->network(network()).record_nodes;
    for (PlacedEntry& e : entries.value()) {
      if (!std::holds_alternative<Record>(e.entry)) continue;
      for (NodeId n : record_nodes) {
        if (std::binary_search(e.holders.begin(), e.holders.end(), n)) continue;
        e.holders.insert(std::lower_bound(e.holders.begin(), e.holders.end(), n), n);
        break;
      }
    }
    Proposal out = p;
    out.body = SharedBytes(encode_block_body(entries.value()));
    out.header.placement_hash = placement_hash(entries.value());
    out.prepare = inner_.signer().sign(prepare_signing_bytes(
        out.header.network, out.view, out.header.height, header_hash(out.header)));
    return out;
  }

  Env& inner_;
  TopologyPtr topology_;
  Scenario::Byzantine b_;
  std::deque<std::pair<NodeId, MessagePtr>> sent_;  // kReplayOld: the latest sends
  std::uint64_t sends_ = 0;
};

// Owns the lying Env and the honest logic behind it.
class ByzantineNode final : public NodeLogic {
 public:
  ByzantineNode(Env& env, TopologyPtr topology, Scenario::Byzantine b)
      : env_(env, topology, b), node_(honest(env_, std::move(topology))) {}
  void start() override { node_->start(); }
  void on_message(NodeId from, const Message& message) override {
    node_->on_message(from, message);
  }
  void on_timer(TimerId id, std::uint64_t tag) override { node_->on_timer(id, tag); }
  void on_client(ClientRequestId id, const ClientRequest& request) override {
    node_->on_client(id, request);
  }
  std::string work_in_flight() const override { return node_->work_in_flight(); }
  NodeLogic* inner() const { return node_.get(); }

 private:
  static std::unique_ptr<NodeLogic> honest(Env& env, TopologyPtr topology) {
    switch (topology->node(env.self()).role) {
      case NodeRole::kRecord:
        return std::make_unique<RecordNode>(env, std::move(topology));
      case NodeRole::kIndex:  // a replica of the index chain
        return std::make_unique<IndexNode>(env, std::move(topology));
      case NodeRole::kConsensus:
        break;
    }
    return std::make_unique<ConsensusNode>(env, std::move(topology));
  }

  LyingEnv env_;
  std::unique_ptr<NodeLogic> node_;
};

}  // namespace

std::unique_ptr<NodeLogic> byzantine_node(Env& env, TopologyPtr topology, Scenario::Byzantine b) {
  return std::make_unique<ByzantineNode>(env, std::move(topology), b);
}

NodeLogic* honest_logic(NodeLogic* logic) {
  if (auto* b = dynamic_cast<ByzantineNode*>(logic)) return b->inner();
  return logic;
}

}  // namespace mhr
