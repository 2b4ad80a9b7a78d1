#include "tools/sim/checkers.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "common/chain_store.hpp"
#include "common/entry.hpp"
#include "consensus_node/block_body.hpp"
#include "index_node/index_chain.hpp"
#include "tools/sim/chunked.hpp"

namespace mhr {

namespace {

// What the consensus nodes committed: the ground truth the stores must match.
struct Committed {
  std::unordered_map<UserId, std::vector<NodeId>> registered_at;  // user -> record nodes
  // Committed records by hash, with their users: all the checks need of
  // them (a million records' payloads copied here were a gigabyte).
  std::unordered_map<Hash, UserId> records;
};

class Checker {
 public:
  Checker(const CheckInput& in, std::size_t max_messages) : in_(in), max_messages_(max_messages) {}

  CheckResult run() {
    read_committed();
    check_networks_and_record_nodes();
    check_durability();
    if (in_.topology.params().index_order == IndexOrder::kChain) check_index_chain();
    result_.records_committed = committed_.records.size();
    return result_;
  }

 private:
  // What one chunk of the parallel checks found, merged in chunk order.
  struct Findings {
    std::uint64_t violations = 0;
    std::vector<std::string> messages;
    std::uint64_t record_copies = 0;
  };

  void violation(std::string text) { add(result_, std::move(text)); }
  void add(Findings& f, std::string text) const {
    ++f.violations;
    if (f.messages.size() < max_messages_) f.messages.push_back(std::move(text));
  }
  void add(CheckResult& r, std::string text) const {
    ++r.violations;
    if (r.messages.size() < max_messages_) r.messages.push_back(std::move(text));
  }

  // Each network's headers, then each record node's records; the stores of
  // one network are read by one thread.
  void check_networks_and_record_nodes() {
    const auto& networks = in_.topology.networks();
    std::vector<NodeId> record_nodes;
    for (const NodeInfo& node : in_.topology.nodes())
      if (node.role == NodeRole::kRecord) record_nodes.push_back(node.id);
    held_.resize(in_.topology.nodes().size());
    const std::size_t chunks = std::max<std::size_t>(1, in_.threads);
    std::vector<Findings> headers(chunks), records(chunks);
    for_each_chunk(networks.size(), chunks, [&](std::size_t begin, std::size_t end, std::size_t c) {
      for (std::size_t i = begin; i < end; ++i) check_headers(networks[i], headers[c]);
    });
    for_each_chunk(record_nodes.size(), chunks,
                   [&](std::size_t begin, std::size_t end, std::size_t c) {
                     for (std::size_t i = begin; i < end; ++i)
                       check_record_node(record_nodes[i], records[c]);
                   });
    for (auto* part : {&headers, &records}) {
      for (Findings& f : *part) {
        for (std::string& m : f.messages) add(result_, std::move(m));
        result_.violations += f.violations - f.messages.size();
        result_.record_copies += f.record_copies;
      }
    }
  }

  // The replicas of each network must agree on every header they both
  // committed (they may be of different lengths: one was down); the longest
  // chain is what the network committed.
  void read_committed() {
    for (const NetworkInfo& net : in_.topology.networks()) {
      NodeId longest = net.consensus_nodes.front();
      for (NodeId replica : net.consensus_nodes) {
        if (in_.faulty.contains(replica)) continue;
        longest = replica;
        break;
      }
      std::uint64_t longest_height = 0;
      std::map<std::uint64_t, std::pair<Hash, NodeId>> first_seen;  // height -> header hash
      for (NodeId replica : net.consensus_nodes) {
        if (in_.faulty.contains(replica)) continue;
        const ChainStore chain(in_.store_of(replica));
        auto last = chain.last_header(net.id);
        const std::uint64_t height = last ? last->header.height + 1 : 0;
        for (std::uint64_t h = 0; h < height; ++h) {
          auto sh = chain.header(net.id, h);
          if (!sh) continue;
          const Hash hash = header_hash(sh->header);
          auto [it, fresh] = first_seen.try_emplace(h, hash, replica);
          if (!fresh && it->second.first != hash)
            violation("fork: " + in_.name_of(replica) + " and " + in_.name_of(it->second.second) +
                      " committed different headers at height " + std::to_string(h) + " of " +
                      to_string(net.id));
        }
        if (height > longest_height) {
          longest_height = height;
          longest = replica;
        }
      }
      truth_[net.id] = longest;
      const Store& store = in_.store_of(longest);
      Bytes prefix;
      append_be32(prefix, net.id.value);
      store.scan_prefix(Table::kBlocks, prefix, [&](ByteView, ByteView body) {
        read_body(body);
        return true;
      });
    }
  }

  void read_body(ByteView body) {
    auto entries = decode_block_body(body);
    if (!entries.ok()) {
      violation("a consensus node's block body does not decode");
      return;
    }
    for (const PlacedEntry& p : entries.value()) {
      if (const auto* reg = std::get_if<Registration>(&p.entry)) {
        auto& nodes = committed_.registered_at[reg->user];
        if (std::find(nodes.begin(), nodes.end(), reg->node) == nodes.end())
          nodes.push_back(reg->node);
      } else if (const auto* r = std::get_if<Record>(&p.entry)) {
        committed_.records.emplace(p.hash, r->user);
      }
    }
  }

  bool registered(const UserId& user, NodeId node) const {
    auto it = committed_.registered_at.find(user);
    return it != committed_.registered_at.end() &&
           std::find(it->second.begin(), it->second.end(), node) != it->second.end();
  }

  void check_headers(const NetworkInfo& net, Findings& found) const {
    const Store& truth_store = in_.store_of(truth_.at(net.id));
    const ChainStore truth(truth_store);
    auto last = truth.last_header(net.id);
    std::uint64_t height = last ? last->header.height + 1 : 0;
    std::vector<Bytes> truth_bytes(height);  // as stored, by height
    for (std::uint64_t i = 0; i < height; ++i)
      truth_bytes[i] = truth_store.get(Table::kHeaders, header_key(net.id, i)).value_or(Bytes{});
    for (NodeId member : in_.topology.members_of(net.id)) {
      const Store& store = in_.store_of(member);
      const ChainStore chain(store);
      auto mine = chain.last_header(net.id);
      std::uint64_t h = mine ? mine->header.height + 1 : 0;
      if (h != height)
        add(found, in_.name_of(member) + " has " + std::to_string(h) + " headers of " +
                       to_string(net.id) + ", its consensus node " + std::to_string(height));
      for (std::uint64_t i = 0; i < std::min(h, height); ++i) {
        if (same_header(store, net.id, i, truth_bytes[i], truth)) continue;
        add(found, in_.name_of(member) + " disagrees on header " + std::to_string(i) + " of " +
                       to_string(net.id));
        break;
      }
    }
  }

  // The same header; its certificate may hold another quorum of signatures.
  // Nearly always the same bytes, which need no decoding.
  static bool same_header(const Store& store, NetworkId net, std::uint64_t height,
                          ByteView truth_bytes, const ChainStore& truth) {
    bool same_bytes = false;
    const bool found = store.read(Table::kHeaders, header_key(net, height), [&](ByteView v) {
      same_bytes = !truth_bytes.empty() && std::ranges::equal(v, truth_bytes);
    });
    if (!found) return false;
    if (same_bytes) return true;
    auto mine = ChainStore(store).header(net, height);
    auto theirs = truth.header(net, height);
    return mine && theirs && mine->header == theirs->header;
  }

  void check_record_node(NodeId node, Findings& found) {
    const bool sparse = in_.topology.params().replication == Replication::kSparse;
    const ChainStore chain(in_.store_of(node));
    std::optional<std::pair<UserId, NetworkId>> key;
    std::optional<ChainTip> tip;
    chain.for_each([&](const Hash& h, const Record& r) {
      ++found.record_copies;
      held_[node.value].insert(h);
      if (!committed_.records.contains(h))
        add(found, "record " + h.short_hex() + " on " + in_.name_of(node) + " was never committed");
      if (sparse && !registered(r.user, node))
        add(found, "privacy: record " + h.short_hex() + " of user " + r.user.short_hex() + " on " +
                       in_.name_of(node) + " where the user is not registered");
      if (!key || key->first != r.user || key->second != r.network) {
        key = {r.user, r.network};
        tip.reset();
      }
      if (auto e = chain_continuity_error(r, tip))
        add(found, "chain of user " + r.user.short_hex() + " (" + to_string(r.network) + ") on " +
                       in_.name_of(node) + " broken at " + std::to_string(r.sequence) + ": " + *e);
      tip = ChainTip{r.sequence, h};
    });
  }

  void check_durability() {
    const bool sparse = in_.topology.params().replication == Replication::kSparse;
    std::vector<NodeId> all_record_nodes;
    for (const NodeInfo& n : in_.topology.nodes())
      if (n.role == NodeRole::kRecord) all_record_nodes.push_back(n.id);
    for (const auto& [h, user] : committed_.records) {
      const std::vector<NodeId>* holders = &all_record_nodes;
      if (sparse) {
        auto it = committed_.registered_at.find(user);
        if (it == committed_.registered_at.end()) {
          violation("record " + h.short_hex() + " committed for an unregistered user");
          continue;
        }
        holders = &it->second;
      }
      for (NodeId n : *holders)
        if (!held_[n.value].contains(h))
          violation("durability: record " + h.short_hex() + " of user " + user.short_hex() +
                    " missing from " + in_.name_of(n));
    }
  }

  // The index nodes agree on every index header they both committed; the
  // longest chain has a membership for every committed registration's
  // network (once the run is quiet: memberships in flight are reported as
  // work in flight).
  void check_index_chain() {
    std::vector<Hash> headers;  // by height, as first seen
    std::vector<NodeId> seen_by;
    NodeId longest;
    for (NodeId node : in_.topology.index_nodes()) {
      if (in_.faulty.contains(node)) continue;
      const Store& store = in_.store_of(node);
      for (std::uint64_t h = 0;; ++h) {
        auto sh = store.get(Table::kIndexChain, index_header_key(h));
        if (!sh) break;
        auto decoded = decode<SignedHeader>(*sh);
        if (!decoded.ok()) {
          violation(in_.name_of(node) + "'s index header " + std::to_string(h) +
                    " does not decode");
          break;
        }
        const Hash hash = header_hash(decoded->header);
        if (h == headers.size()) {
          headers.push_back(hash);
          seen_by.push_back(node);
          longest = node;
        } else if (headers[h] != hash) {
          violation("fork: " + in_.name_of(node) + " and " + in_.name_of(seen_by[h]) +
                    " committed different index headers at height " + std::to_string(h));
          break;
        }
      }
    }
    std::set<std::pair<UserId, NetworkId>> members;
    const Store& store = in_.store_of(longest);
    for (std::uint64_t h = 0; h < headers.size(); ++h) {
      auto body = store.get(Table::kIndexChain, index_body_key(h));
      auto txs = body ? decode_index_body(*body) : decode_index_body({});
      if (!txs.ok()) {
        violation("index block " + std::to_string(h) + " on " + in_.name_of(longest) +
                  " is missing or does not decode");
        continue;
      }
      for (const IndexTx& tx : txs.value()) {
        const auto* m = std::get_if<Membership>(&tx);
        if (!m) continue;
        members.emplace(m->user, m->network);
        // Every membership the index chain took is a registration its edge
        // network committed (no index node can claim a patient).
        auto reg = committed_.registered_at.find(m->user);
        if (reg == committed_.registered_at.end() ||
            std::find(reg->second.begin(), reg->second.end(), m->node) == reg->second.end())
          violation("index block " + std::to_string(h) + " has a membership of user " +
                    m->user.short_hex() + " at " + in_.name_of(m->node) +
                    ", where no committed block registered it");
      }
    }
    for (const auto& [user, nodes] : committed_.registered_at) {
      for (NodeId n : nodes) {
        const NetworkId net = in_.topology.network_of(n);
        if (in_.faulty.contains(in_.topology.index_of(net))) continue;
        if (!members.contains({user, net}))
          violation("registration of user " + user.short_hex() + " at " + in_.name_of(n) +
                    " is not on the index chain");
      }
    }
  }

  const CheckInput& in_;
  std::size_t max_messages_;
  Committed committed_;
  std::vector<std::unordered_set<Hash>> held_;  // by node id: records each holds
  CheckResult result_;
  std::map<NetworkId, NodeId> truth_;  // the replica with the longest chain of each network
};

}  // namespace

CheckResult check_stores(const CheckInput& in, std::size_t max_messages) {
  return Checker(in, max_messages).run();
}

}  // namespace mhr
