// Writes a record node's store of N signed records for mhr verify's
// throughput benchmark (docs/BENCHMARKS.md): a one-network deployment
// (topology.yaml), users registered at the node, records in signed blocks
// of 500 with their proofs, in DIR/data (LMDB), as the node would keep them.
//   synth_store DIR RECORDS
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "common/chain_store.hpp"
#include "common/net/deployment.hpp"
#include "common/signer.hpp"
#include "tools/sim/scenario.hpp"
#include "tools/verify/store_layout.hpp"

using namespace mhr;

namespace {
// A fixed, distinct CURVE public key per node.
std::string fixed_curve_key(std::size_t i) {
  std::array<std::uint8_t, 32> raw;
  raw.fill(static_cast<std::uint8_t>(i + 1));
  return z85_curve_key(raw);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: synth_store DIR RECORDS\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::size_t n = std::strtoull(argv[2], nullptr, 10);
  constexpr std::size_t kRecordsPerUser = 20;
  constexpr std::size_t kBlockEntries = 500;

  const Scenario s = load_scenario_string(
      "duration: 1s\ntopology: {networks: 1, record_nodes: 1}\n"
      "workload: {users: 1, record_rate: 1, start: 0s, stop: 1s}\n",
      "synth");
  std::vector<std::unique_ptr<Signer>> signers;
  std::vector<PublicKey> keys;
  std::vector<NodeAddress> address;
  for (std::size_t i = 0; i < s.node_count(); ++i) {
    SecretSeed seed;
    seed.bytes.fill(static_cast<std::uint8_t>(i + 1));
    signers.push_back(make_signer(CryptoMode::kReal, seed));
    keys.push_back(signers.back()->public_key());
    address.push_back({"tcp://127.0.0.1:" + std::to_string(7000 + i), fixed_curve_key(i)});
  }
  const Topology topology = make_topology(s, protocol_params(s, s.modes.front()), keys);
  std::filesystem::create_directories(dir);
  write_deployment(dir + "/topology.yaml", topology, address);

  const NetworkInfo& net = topology.network(NetworkId{0});
  const NodeId author = net.record_nodes.at(0);
  const NodeId consensus = net.consensus_nodes.at(0);
  auto opened = open_lmdb_store(dir + "/data", LmdbOptions{64ull << 30, false});
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.error().c_str());
    return 1;
  }
  Store& store = *opened.value();
  const ChainStore chain(store);
  std::optional<SignedHeader> prev;
  std::vector<std::optional<ChainTip>> tips((n + kRecordsPerUser - 1) / kRecordsPerUser);
  const Bytes payload(768, 0x5a);
  for (std::size_t done = 0, height = 0; done < n; ++height) {
    std::vector<Record> block;
    std::vector<Hash> leaves;
    WriteBatch batch;
    for (; block.size() < kBlockEntries && done < n; ++done) {
      const std::size_t u = done % tips.size();
      Record r;
      r.user = UserId{sha256(as_bytes("user " + std::to_string(u)))};
      r.network = net.id;
      r.author_node = author;
      r.author_key = keys[author.value];
      r.sequence = tips[u] ? tips[u]->sequence + 1 : 0;
      r.prev_hash = tips[u] ? tips[u]->hash : Hash{};
      r.created_at_us = static_cast<TimeUs>(done);
      r.content_type = "Observation";
      r.payload = SharedBytes(payload);
      sign_record(r, *signers[author.value]);
      if (!tips[u])
        batch.put(Table::kUsers, tagged_key(layout::kRegisteredUser, r.user.view()), {});
      tips[u] = ChainTip{r.sequence, record_hash(r)};
      leaves.push_back(tips[u]->hash);
      block.push_back(std::move(r));
    }
    const MerkleTree tree(leaves);
    SignedHeader sh{BlockHeader{net.id, height, prev ? header_hash(prev->header) : Hash{},
                                tree.root(), static_cast<std::uint32_t>(leaves.size()),
                                static_cast<TimeUs>(height), consensus, Hash{}},
                    {}};
    add_signature(sh, consensus, *signers[consensus.value]);
    chain.put_header(batch, sh);
    for (std::size_t i = 0; i < block.size(); ++i)
      chain.put_record(batch, block[i], leaves[i], {net.id, height, tree.prove(i)});
    store.write(batch);
    prev = sh;
  }
  std::printf("%zu records of %zu users in %s/data; topology %s/topology.yaml\n", n, tips.size(),
              dir.c_str(), dir.c_str());
  return 0;
}
