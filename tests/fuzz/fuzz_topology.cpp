#include "tests/fuzz/fuzz_topology.hpp"

#include "tools/sim/scenario.hpp"

namespace mhr::fuzz {

namespace {

FuzzDeployment build(CryptoMode mode) {
  const Scenario s = load_scenario_string(
      "duration: 1s\ntopology: {networks: 2, record_nodes: 2}\nworkload: {users: 1, record_rate: "
      "1, start: 0s, stop: 1s}\n",
      "fuzz-topology");
  ProtocolParams params = protocol_params(s, s.modes.front());
  params.crypto = mode;
  std::vector<std::unique_ptr<Signer>> signers;
  std::vector<PublicKey> keys;
  for (std::size_t i = 0; i < s.node_count(); ++i) {
    SecretSeed seed;
    seed.bytes.fill(static_cast<std::uint8_t>(i + 1));
    signers.push_back(make_signer(mode, seed));
    keys.push_back(signers.back()->public_key());
  }
  return FuzzDeployment{make_topology(s, params, keys), std::move(signers)};
}

}  // namespace

const FuzzDeployment& fuzz_deployment(CryptoMode mode) {
  static const FuzzDeployment real = build(CryptoMode::kReal);
  static const FuzzDeployment modeled = build(CryptoMode::kModeled);
  return mode == CryptoMode::kReal ? real : modeled;
}

}  // namespace mhr::fuzz
