// mhr verify's core on stores the simulator filled: intact stores pass;
// a changed byte in a record or a header is found and named.
#include <doctest/doctest.h>

#include "flow_harness.hpp"
#include "tools/verify/verify.hpp"

using namespace mhr;
using mhr::test::FlowRun;

namespace {
const char* kYaml = R"(
duration: 6s
topology: {networks: 2, record_nodes: 2}
workload:
  users: 6
  multi_network_fraction: 0.5
  record_rate: 30
  start: 2.5s
  stop: 5s
)";
}  // namespace

TEST_CASE("verify: every node's store of a finished run is intact") {
  FlowRun run(kYaml, 3);
  REQUIRE(run.summary.violations == 0);
  std::uint64_t records = 0;
  for (std::size_t i = 0; i < run.sim->world().node_count(); ++i) {
    NodeId n{static_cast<std::uint32_t>(i)};
    VerifyReport r = verify_store(run.sim->world().store_of(n), &run.sim->topology(), 2);
    CHECK_MESSAGE(!r.problem, r.problem.value_or(""));
    records += r.records;
  }
  CHECK(records > 50);
}

TEST_CASE("verify: a flipped byte in a record or a header is named") {
  FlowRun run(kYaml, 3);
  Store& store = run.sim->world().store_of(run.node("net0.r0"));
  REQUIRE(!verify_store(store, &run.sim->topology(), 2).problem);

  // Every byte of one stored record, flipped in turn: always found.
  std::optional<std::pair<Bytes, Bytes>> first;
  store.scan(Table::kRecords, {}, {}, [&](ByteView k, ByteView v) {
    first.emplace(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
    return false;
  });
  REQUIRE(first.has_value());
  for (std::size_t i = 0; i < first->second.size(); i += 7) {
    Bytes damaged = first->second;
    damaged[i] ^= 0x20;
    WriteBatch b;
    b.put(Table::kRecords, first->first, damaged);
    store.write(b);
    VerifyReport r = verify_store(store, &run.sim->topology(), 2);
    CHECK_MESSAGE(r.problem.has_value(), "byte " << i << " of a record changed unnoticed");
  }
  WriteBatch restore;
  restore.put(Table::kRecords, first->first, first->second);
  store.write(restore);
  REQUIRE(!verify_store(store, &run.sim->topology(), 2).problem);

  // A header's Merkle root changed: its quorum and the proofs into it fail.
  std::optional<std::pair<Bytes, Bytes>> header;
  store.scan(Table::kHeaders, {}, {}, [&](ByteView k, ByteView v) {
    header.emplace(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
    return false;
  });
  REQUIRE(header.has_value());
  auto sh = decode<SignedHeader>(header->second);
  REQUIRE(sh.ok());
  sh->header.merkle_root.bytes[0] ^= 1;
  WriteBatch b;
  b.put(Table::kHeaders, header->first, encode(sh.value()));
  store.write(b);
  VerifyReport r = verify_store(store, &run.sim->topology(), 2);
  REQUIRE(r.problem.has_value());
  CHECK(r.problem->find("header 0") != std::string::npos);
}
