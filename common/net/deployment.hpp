// A deployment on real machines: who every node is and where it listens
// (the topology file, shared by all nodes of a deployment), what one node
// is (its node file), and its secret keys (its key file, mode 0600).
// Everything is validated on load; errors name file, line and key.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/signer.hpp"
#include "common/topology.hpp"

namespace mhr {

// A CURVE key in ZeroMQ's Z85 text form (40 characters).
struct CurveKeyPair {
  std::string public_z85;
  std::string secret_z85;
  static CurveKeyPair generate();
};

// The Z85 text of a 32-byte CURVE key (tools that write fixed test
// deployments; real keys come from CurveKeyPair::generate).
std::string z85_curve_key(const std::array<std::uint8_t, 32>& raw);

// What a key file holds: the Ed25519 seed (signing) and the CURVE pair
// (transport encryption and authentication).
struct NodeKeys {
  SecretSeed sign_seed;
  CurveKeyPair curve;
  static NodeKeys generate();
};
// Writes a key file readable by its owner only (0600). Throws on failure.
void write_key_file(const std::string& path, const NodeKeys& keys);
NodeKeys load_key_file(const std::string& path);  // throws ConfigError

// Where a node is reached and how its transport key reads.
struct NodeAddress {
  std::string endpoint;   // e.g. tcp://127.0.0.1:7001
  std::string curve_z85;  // its CURVE public key
};

struct Deployment {
  TopologyPtr topology;              // sign keys and roles of every node
  std::vector<NodeAddress> address;  // by node id
};
// Reads a topology file: protocol parameters, networks, and every node with
// id, name, role, network, endpoint, sign key (hex) and CURVE key (Z85).
Deployment load_deployment(const std::string& path);
void write_deployment(const std::string& path, const Topology& topology,
                      const std::vector<NodeAddress>& address);

// A node's own configuration file.
struct NodeConfig {
  std::string file;  // where it was read from
  NodeId id;
  std::string key_file;  // relative paths are relative to `file`
  std::string listen;    // endpoint to bind, e.g. tcp://0.0.0.0:7001
  std::string data_dir;
  std::string topology_file;
  std::vector<std::string> client_keys;  // CURVE public keys admitted as clients
  std::size_t max_message_bytes = 64u << 20;
  int send_hwm = 10'000;  // messages queued per peer before dropping
  int recv_hwm = 10'000;
  TimeUs heartbeat_us = 1 * kUsPerSecond;  // ZMTP heartbeat interval
  TimeUs heartbeat_timeout_us = 5 * kUsPerSecond;
  TimeUs reconnect_us = 100 * kUsPerMs;  // first reconnect delay
  TimeUs reconnect_max_us = 5 * kUsPerSecond;
  bool fsync = true;
  // Threads checking the signatures of a turn's messages (the loop's own
  // thread included): 1 checks them on the loop thread only.
  std::uint32_t verify_threads = 2;
};
NodeConfig load_node_config(const std::string& path);  // throws ConfigError
void write_node_config(const std::string& path, const NodeConfig& config);

}  // namespace mhr
