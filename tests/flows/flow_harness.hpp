// Helpers for flow tests: a scenario from YAML text, a finished simulated
// run, and looks into what each node durably holds.
#pragma once

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "common/chain_store.hpp"
#include "common/client_codec.hpp"
#include "edge_node/record_node.hpp"
#include "tools/sim/run.hpp"
#include "tools/sim/workload.hpp"

namespace mhr::test {

// A finished run; failures print its seed so it can be replayed.
struct FlowRun {
  Scenario scenario;
  std::unique_ptr<SimRun> sim;
  RunSummary summary;

  FlowRun(const std::string& yaml, std::uint64_t seed, ScenarioMode mode = ScenarioMode::kBroadcast)
      : scenario(load_scenario_string(yaml, "flow-test.yaml")) {
    SimOptions options;
    options.seed = seed;
    sim = std::make_unique<SimRun>(scenario, mode, options);
    summary = sim->run();
  }

  NodeId node(const std::string& name) const { return *scenario.layout.find_node(name); }
  UserId user(std::uint32_t index) const { return user_id(index, scenario.protocol.crypto); }
  ChainStore chain(const std::string& name) {
    return ChainStore(sim->world().store_of(node(name)));
  }

  // Hashes of every record of `user` held by the named node.
  std::set<Hash> records_of(const std::string& name, std::uint32_t user) {
    std::set<Hash> out;
    chain(name).for_each_record(this->user(user),
                                [&](const Hash& h, const Record&) { out.insert(h); });
    return out;
  }
  std::uint64_t record_count(const std::string& name) { return chain(name).record_count(); }

  std::string violations() const {
    std::string out;
    for (const auto& v : summary.violation_list) out += v + "\n";
    return out;
  }
};

// A simulated run with client requests of the test's own at chosen times.
class ClientRun {
 public:
  ClientRun(const char* yaml, std::uint64_t seed)
      : scenario_(load_scenario_string(yaml, "client-run.yaml")) {
    SimOptions options;
    options.seed = seed;
    sim_ = std::make_unique<SimRun>(scenario_, ScenarioMode::kBroadcast, options);
  }

  NodeId node(const char* name) const { return *scenario_.layout.find_node(name); }
  std::unique_ptr<Signer> institution(const char* name) const {
    return make_signer(CryptoMode::kReal, node_seed(node(name).value));
  }
  SimWorld& world() { return sim_->world(); }
  RecordNode& record_node(const char* name) {
    auto* r = dynamic_cast<RecordNode*>(world().logic_of(node(name)));
    REQUIRE(r);
    return *r;
  }
  const Store& store(const char* name) { return world().store_of(node(name)); }

  // Sends `request` signed by `by` to `name` at time t; the reply lands in `out`.
  void ask(TimeUs t, const char* name, ClientRequest request, const Signer& by, ClientReply& out) {
    world().at(t, [this, name, request, &by, &out]() mutable {
      sign_request(request, by, node(name), world().now(), ++nonce_);
      world().submit(node(name), std::move(request), [&out](const ClientReply& r) { out = r; });
    });
  }
  void act(TimeUs t, const char* name, const Signer& patient, PatientAct a, ClientReply& out) {
    world().at(t, [this, name, &patient, a, &out] {
      PatientStatement s{
          user_id_of(patient.public_key()), patient.public_key(), world().now(), ++nonce_, a, {}};
      sign_statement(s, patient);
      last_statement = s;
      world().submit(node(name), PatientActRequest{s}, [&out](const ClientReply& r) { out = r; });
    });
  }

  RunSummary run() { return sim_->run(); }
  const Topology& topology() const { return sim_->topology(); }

  std::optional<PatientStatement> last_statement;

 private:
  Scenario scenario_;
  std::unique_ptr<SimRun> sim_;
  std::uint64_t nonce_ = 1u << 30;  // apart from the workload driver's nonces
};

}  // namespace mhr::test
