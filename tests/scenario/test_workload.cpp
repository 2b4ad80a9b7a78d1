#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "common/crypto.hpp"
#include "common/identity.hpp"
#include "tests/scenario/helpers.hpp"
#include "tools/sim/workload.hpp"

using namespace mhr;
using namespace scenario_test;

namespace {

Scenario make(const std::string& workload_extra,
              const std::string& topology =
                  "{networks: 4, "
                  "record_nodes: 5}",
              const std::string& duration = "30s") {
  return load_scenario_string("duration: " + duration + "\ntopology: " + topology +
                                  "\nworkload:\n  users: 500\n  record_rate: 50\n" + workload_extra,
                              "test.yaml");
}

using Kind = WorkloadAction::Kind;

// Replays the actions: every submission must go to a node where the user is
// registered by then, preferring nodes registered kRegistrationSettleUs ago.
void check_submissions(const Scenario& s, const std::vector<WorkloadAction>& actions) {
  std::vector<std::vector<std::pair<NodeId, TimeUs>>> regs(s.workload.users);
  std::size_t bad = 0, unsettled = 0;
  for (const auto& a : actions) {
    REQUIRE(s.layout.role_of(a.node) == NodeRole::kRecord);
    if (a.kind == Kind::kRegister) {
      regs[a.user].emplace_back(a.node, a.at_us);
      continue;
    }
    const auto& r = regs[a.user];
    auto it = std::find_if(r.begin(), r.end(), [&](auto& p) { return p.first == a.node; });
    if (it == r.end()) {
      ++bad;
      continue;
    }
    const bool settled = it->second + kRegistrationSettleUs <= a.at_us;
    const bool any_settled = std::any_of(
        r.begin(), r.end(), [&](auto& p) { return p.second + kRegistrationSettleUs <= a.at_us; });
    if (!settled && any_settled) ++unsettled;
  }
  CHECK(bad == 0);
  CHECK(unsettled == 0);
}

}  // namespace

TEST_CASE("workload: user ids depend only on the index and the crypto mode") {
  for (CryptoMode mode : {CryptoMode::kReal, CryptoMode::kModeled}) {
    const auto patient = make_signer(mode, SecretSeed{sha256(as_bytes("mhr-patient-42"))});
    CHECK(user_id(42, mode) == user_id_of(patient->public_key()));
    CHECK(user_id(1, mode) != user_id(2, mode));
    CHECK(user_id(7, mode) == user_id(7, mode));
  }
  CHECK(user_id(3, CryptoMode::kReal) != user_id(3, CryptoMode::kModeled));
}

TEST_CASE("workload: deterministic per seed, different across seeds, sorted") {
  auto s = make("  migrations: {count: 10}\n");
  auto a = generate_workload(s, 1);
  auto b = generate_workload(s, 1);
  auto c = generate_workload(s, 2);
  CHECK(a == b);
  CHECK(a != c);
  CHECK(std::is_sorted(a.begin(), a.end(),
                       [](const auto& x, const auto& y) { return x.at_us < y.at_us; }));
  CHECK(std::is_sorted(c.begin(), c.end(),
                       [](const auto& x, const auto& y) { return x.at_us < y.at_us; }));
  // At equal times registrations come first; all times lie inside the run.
  for (const auto& x : a) {
    CHECK(x.at_us >= 0);
    CHECK(x.at_us < s.duration_us);
  }
}

TEST_CASE("workload: registrations, records and their attributes") {
  auto s = make(
      "  multi_network_fraction: 0\n"
      "  nodes_per_network: 2\n"
      "  registration_window: 2s\n"
      "  payload_bytes: {min: 100, max: 200}\n"
      "  content_types: [A, B, C]\n"
      "  categories: {billing: 1, administrative: 3}\n");
  auto actions = generate_workload(s, 5);
  auto st = summarize_workload(s, actions);
  CHECK(st.users_registered == 500);
  CHECK(st.registrations == 1000);  // two nodes per user, one network
  CHECK(st.multi_network_users == 0);
  CHECK(st.migrations == 0);
  // Poisson arrivals: 50/s for 27 s = 1350 expected, sd ~37.
  CHECK(st.submissions > 1150);
  CHECK(st.submissions < 1550);
  std::map<std::uint32_t, std::set<NodeId>> nodes;
  std::array<std::size_t, kCategoryCount> cats{};
  std::set<std::uint16_t> types;
  for (const auto& a : actions) {
    if (a.kind == Kind::kRegister) {
      CHECK(a.at_us < 2 * kUsPerSecond);
      CHECK_FALSE(a.migration);
      nodes[a.user].insert(a.node);
    } else {
      CHECK(a.at_us >= s.workload.start_us);
      CHECK(a.at_us < s.workload.stop_us);
      CHECK(a.payload_bytes >= 100);
      CHECK(a.payload_bytes <= 200);
      CHECK(a.content_type < 3);
      types.insert(a.content_type);
      ++cats[static_cast<std::size_t>(a.category)];
    }
  }
  for (const auto& [user, set] : nodes) {
    CHECK(set.size() == 2);  // distinct nodes
    CHECK(s.layout.network_of(*set.begin()) == s.layout.network_of(*set.rbegin()));
  }
  CHECK(types.size() == 3);
  CHECK(cats[0] == 0);  // medical: weight 0
  CHECK(cats[2] == 0);  // insurance: weight 0
  const double admin_share = static_cast<double>(cats[3]) / static_cast<double>(st.submissions);
  CHECK(admin_share == doctest::Approx(0.75).epsilon(0.1));
  check_submissions(s, actions);
}

TEST_CASE("workload: multi_network_fraction is honoured") {
  for (double f : {0.0, 0.3, 1.0}) {
    CAPTURE(f);
    auto s = load_scenario_string(
        "duration: 10s\ntopology: {networks: 4, record_nodes: 5}\n"
        "workload: {users: 2000, record_rate: 10}\n",
        "t.yaml", {"workload.multi_network_fraction=" + std::to_string(f)});
    auto st = summarize_workload(s, generate_workload(s, 3));
    const double share = st.multi_network_users / 2000.0;
    CHECK(std::fabs(share - f) < 0.04);
    CHECK(st.registrations == 2000 + st.multi_network_users);
  }
  // One network: the fraction cannot apply and is ignored.
  auto one = load_scenario_string(
      "duration: 10s\ntopology: {networks: 1, record_nodes: 5}\n"
      "workload: {users: 100, record_rate: 10, multi_network_fraction: 1}\n",
      "t.yaml");
  CHECK(summarize_workload(one, generate_workload(one, 1)).multi_network_users == 0);
}

TEST_CASE("workload: random migrations") {
  auto s = make(
      "  multi_network_fraction: 0.2\n"
      "  migrations: {count: 40, within_fraction: 0.5, window: {from: 5s, to: 20s}}\n");
  auto actions = generate_workload(s, 11);
  auto st = summarize_workload(s, actions);
  CHECK(st.migrations == 40);
  std::vector<std::set<NetworkId>> nets(s.workload.users);
  std::vector<std::set<NodeId>> at(s.workload.users);
  int within = 0, across = 0;
  for (const auto& a : actions) {
    if (a.kind != Kind::kRegister) continue;
    const NetworkId net = s.layout.network_of(a.node);
    if (a.migration) {
      CHECK(a.at_us >= 5 * kUsPerSecond);
      CHECK(a.at_us < 20 * kUsPerSecond);
      CHECK_FALSE(at[a.user].empty());       // the user was registered before
      CHECK(at[a.user].count(a.node) == 0);  // a new node
      (nets[a.user].count(net) ? within : across) += 1;
    }
    nets[a.user].insert(net);
    at[a.user].insert(a.node);
  }
  CHECK(within + across == 40);
  CHECK(within >= 10);
  CHECK(across >= 10);
  check_submissions(s, actions);

  // Records keep reaching the migrated users, at their new node too once it
  // has settled.
  auto all_within = make("  migrations: {count: 30, within_fraction: 1}\n");
  auto acts = generate_workload(all_within, 2);
  std::vector<std::set<NetworkId>> n2(all_within.workload.users);
  for (const auto& a : acts) {
    if (a.kind != Kind::kRegister) continue;
    const NetworkId net = all_within.layout.network_of(a.node);
    if (a.migration) CHECK(n2[a.user].count(net) == 1);
    n2[a.user].insert(net);
  }
}

TEST_CASE("workload: explicit chain of migrations") {
  auto s = load_scenario(scenario_path("chain-migrations.yaml"));
  auto actions = generate_workload(s, s.seed);
  std::vector<std::pair<std::string, bool>> user0;
  std::size_t submits_user0 = 0;
  for (const auto& a : actions) {
    if (a.user != 0) continue;
    if (a.kind == Kind::kRegister)
      user0.emplace_back(s.layout.name_of(a.node), a.migration);
    else
      ++submits_user0;
  }
  CHECK(user0 == std::vector<std::pair<std::string, bool>>{
                     {"net0.r0", false}, {"net1.r0", true}, {"net2.r1", true}});
  CHECK(submits_user0 > 0);
  check_submissions(s, actions);
  // Different seeds keep the explicit migrations.
  auto other = generate_workload(s, 99);
  CHECK(summarize_workload(s, other).migrations == 2);
}

TEST_CASE("workload: the shipped scenarios generate sensible workloads") {
  for (const char* name : {"tiny.yaml", "demo.yaml", "modes.yaml"}) {
    CAPTURE(name);
    auto s = load_scenario(scenario_path(name));
    auto actions = generate_workload(s, s.seed);
    auto st = summarize_workload(s, actions);
    CHECK(st.users_registered == s.workload.users);
    const double expected = s.workload.record_rate *
                            static_cast<double>(s.workload.stop_us - s.workload.start_us) / 1e6;
    CHECK(static_cast<double>(st.submissions) ==
          doctest::Approx(expected).epsilon(5 / std::sqrt(expected)));
    CHECK(st.migrations == s.workload.migration_count);
    check_submissions(s, actions);
  }
}

TEST_CASE("workload: a million records stay compact") {
  auto s = load_scenario(scenario_path("scale-100k.yaml"));
  auto actions = generate_workload(s, s.seed);
  auto st = summarize_workload(s, actions);
  CHECK(st.users_registered == 200'000);
  CHECK(static_cast<double>(st.submissions) == doctest::Approx(1'000'000).epsilon(0.01));
  CHECK(st.migrations == 100);
  CHECK(sizeof(WorkloadAction) <= 32);
  CHECK(actions.capacity() * sizeof(WorkloadAction) < 64u * 1024 * 1024);
}
