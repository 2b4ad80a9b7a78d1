#include "tools/verify/verify.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/chain_store.hpp"
#include "common/verification.hpp"
#include "consensus_node/block_body.hpp"
#include "tools/verify/index_chain_check.hpp"
#include "tools/verify/table_check.hpp"

namespace mhr {

namespace {

struct StoredRecord {
  Hash stored_hash;
  Record record;
};

std::string name_of(const Record& r, const Hash& h) {
  return "record " + h.hex() + " (user " + r.user.short_hex() + ", " + to_string(r.network) +
         ", sequence " + std::to_string(r.sequence) + ")";
}

// Headers by network, checked for links where a network's chain is whole.
class HeaderCheck {
 public:
  HeaderCheck(const Store& store, const Topology* topology) : store_(store), topology_(topology) {}

  std::optional<std::string> run(std::uint64_t& count) {
    std::map<NetworkId, std::vector<SignedHeader>> by_network;
    std::optional<std::string> problem;
    store_.scan(Table::kHeaders, {}, {}, [&](ByteView key, ByteView value) {
      auto sh = decode<SignedHeader>(value);
      if (!sh.ok()) {
        problem = "header stored under " + to_hex(key) +
                  " does not decode: " + std::string(describe(sh.error()));
        return false;
      }
      if (header_key(sh->header.network, sh->header.height) != Bytes(key.begin(), key.end())) {
        problem = "header of " + to_string(sh->header.network) + " at height " +
                  std::to_string(sh->header.height) + " is stored under another key";
        return false;
      }
      by_network[sh->header.network].push_back(std::move(sh).value());
      ++count;
      return true;
    });
    if (problem) return problem;
    for (const auto& [network, chain] : by_network)
      if (auto e = check_chain(network, chain)) return e;
    return std::nullopt;
  }

 private:
  // A chain from height 0 must link throughout; foreign headers (kept for
  // records of other networks) stand alone and need only their quorum.
  std::optional<std::string> check_chain(NetworkId network,
                                         const std::vector<SignedHeader>& chain) {
    const bool whole = !chain.empty() && chain.front().header.height == 0;
    for (std::size_t i = 0; i < chain.size(); ++i) {
      const BlockHeader& h = chain[i].header;
      const std::string where = "header " + std::to_string(h.height) + " of " + to_string(network);
      if (whole && i > 0 && h.height == chain[i - 1].header.height + 1)
        if (auto e = header_link_error(h, &chain[i - 1].header)) return where + ": " + *e;
      if (topology_)
        if (auto e = header_error(chain[i], *topology_, verifier_for(topology_->params().crypto)))
          return where + ": " + *e;
    }
    return std::nullopt;
  }

  const Store& store_;
  const Topology* topology_;
};

// Everything about one record that needs no other record: hash, signature,
// inclusion in its header.
std::optional<std::string> check_record(const StoredRecord& s, const ChainStore& chain,
                                        const Topology* topology) {
  const Record& r = s.record;
  const Hash h = record_hash(r);
  if (h != s.stored_hash) return name_of(r, s.stored_hash) + ": content does not match its hash";
  if (topology) {
    if (auto e = record_author_error(r, *topology, verifier_for(topology->params().crypto)))
      return name_of(r, h) + ": " + *e;
  } else if (!verify_record_signature(r)) {
    return name_of(r, h) + ": author signature does not verify";
  }
  // Decoded here rather than through ChainStore, which takes stored places for granted.
  auto stored_place = chain.store().get(Table::kRecordIndex, h.view());
  if (!stored_place) return name_of(r, h) + ": no block is recorded for it";
  auto place = decode<RecordPlace>(*stored_place);
  if (!place.ok()) return name_of(r, h) + ": its place in the record index does not decode";
  auto header = chain.header(place->network, place->height);
  if (!header)
    return name_of(r, h) + ": its header (" + to_string(place->network) + " height " +
           std::to_string(place->height) + ") is missing";
  if (auto e = inclusion_error(h, place->proof, header->header)) return name_of(r, h) + ": " + *e;
  return std::nullopt;
}

// fn(i) for i in [0, n) spread over `threads` threads; the problem of the
// lowest i wins, so the answer does not depend on scheduling.
std::optional<std::string> first_problem(
    std::size_t n, unsigned threads,
    const std::function<std::optional<std::string>(std::size_t)>& fn) {
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::size_t first_bad = n;
  std::optional<std::string> problem;
  auto work = [&] {
    for (std::size_t i = next++; i < n; i = next++) {
      std::optional<std::string> e;
      try {
        e = fn(i);
      } catch (const std::exception& ex) {  // a damaged entry (StoreError): a problem too
        e = ex.what();
      }
      if (e) {
        std::lock_guard lock(mu);
        if (i < first_bad) {
          first_bad = i;
          problem = std::move(e);
        }
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < std::max(1u, threads); ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return problem;
}

// An entry of a block body with what proves it into its header.
struct BodyEntry {
  Entry entry;
  Hash hash;
  MerkleProof proof;
  std::shared_ptr<const SignedHeader> header;
};

// A consensus node keeps block bodies: their entries must be what the
// header's Merkle root commits to, each signed by its author.
std::optional<std::string> check_block_bodies(const Store& store, const Topology* topology,
                                              unsigned threads) {
  const ChainStore chain(store);
  std::optional<std::string> problem;
  std::vector<BodyEntry> entries;
  store.scan(Table::kBlocks, {}, {}, [&](ByteView key, ByteView value) {
    if (key.size() != 12) {
      problem = "a block body is stored under a malformed key";
      return false;
    }
    const NetworkId network{read_be32(key)};
    const std::uint64_t height = read_be64(key.subspan(4));
    const std::string where = "block " + std::to_string(height) + " of " + to_string(network);
    auto body = decode_block_body(value);
    if (!body.ok()) {
      problem = where + ": body does not decode: " + std::string(describe(body.error()));
      return false;
    }
    auto header = chain.header(network, height);
    if (!header) {
      problem = where + ": its header is missing";
      return false;
    }
    std::vector<Hash> leaves;
    for (const PlacedEntry& p : body.value()) leaves.push_back(p.hash);
    if (leaves.size() != header->header.entry_count ||
        merkle_root(leaves) != header->header.merkle_root) {
      problem = where + ": entries do not match the header's Merkle root";
      return false;
    }
    const MerkleTree tree(leaves);
    auto shared = std::make_shared<const SignedHeader>(std::move(header).value());
    for (std::size_t i = 0; i < leaves.size(); ++i)
      entries.push_back({std::move(body.value()[i].entry), leaves[i], tree.prove(i), shared});
    return true;
  });
  if (problem || !topology) return problem;
  // Every entry signed by its author, on all cores.
  const Verifier& verifier = verifier_for(topology->params().crypto);
  return first_problem(entries.size(), threads, [&](std::size_t i) -> std::optional<std::string> {
    const BodyEntry& e = entries[i];
    if (auto err = entry_error(e.entry, e.hash, e.proof, e.header->header, *topology, verifier))
      return "block " + std::to_string(e.header->header.height) + " of " +
             to_string(e.header->header.network) + ", entry " + e.hash.hex() + ": " + *err;
    return std::nullopt;
  });
}

}  // namespace

VerifyReport verify_store(const Store& store, const Topology* topology, unsigned threads) {
  const auto start = std::chrono::steady_clock::now();
  VerifyReport report;
  report.problem = HeaderCheck(store, topology).run(report.headers);
  if (!report.problem) report.problem = check_block_bodies(store, topology, threads);
  if (report.problem) return report;

  // Records in key order: each (user, network) chain must be continuous.
  std::vector<StoredRecord> records;
  std::optional<std::pair<UserId, NetworkId>> key;
  std::optional<ChainTip> tip;
  store.scan(Table::kRecords, {}, {}, [&](ByteView stored_key, ByteView value) {
    if (value.size() <= Hash::kSize) {
      report.problem = "a stored record is truncated";
      return false;
    }
    auto r = decode<Record>(value.subspan(Hash::kSize));
    Hash stored = Hash::from_view(value.first(Hash::kSize));
    if (!r.ok()) {
      report.problem =
          "record " + stored.hex() + " does not decode: " + std::string(describe(r.error()));
      return false;
    }
    if (record_key(r->user, r->network, r->sequence) !=
        Bytes(stored_key.begin(), stored_key.end())) {
      report.problem = name_of(r.value(), stored) + ": stored under another key";
      return false;
    }
    if (!key || key->first != r->user || key->second != r->network) {
      key = {r->user, r->network};
      tip.reset();
    }
    if (auto e = chain_continuity_error(r.value(), tip)) {
      report.problem = name_of(r.value(), stored) + ": " + *e;
      return false;
    }
    tip = ChainTip{r->sequence, stored};
    records.push_back({stored, std::move(r).value()});
    return true;
  });
  report.records = records.size();
  if (report.problem) return report;

  // Signatures, hashes and proofs: spread over the cores.
  const ChainStore chain(store);
  report.problem = first_problem(records.size(), threads, [&](std::size_t i) {
    return check_record(records[i], chain, topology);
  });
  // Every other table, and the derived indexes recomputed.
  if (!report.problem) report.problem = check_other_tables(store, topology);
  if (!report.problem) report.problem = check_index_chain(store, topology);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace mhr
