// Helpers of the deployment tests: a scratch directory and small files.
#pragma once

#include <sys/stat.h>

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/crypto.hpp"
#include "common/net/deployment.hpp"

namespace mhr::test {

// A fresh directory under the system's temporary directory, removed with
// everything in it when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mhr-deploy-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_text(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  ::chmod(path.c_str(), mode);
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline mode_t file_mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Runs f, which must throw ConfigError, and returns the error.
template <typename F>
ConfigError expect_config_error(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("expected a ConfigError");
  return ConfigError("", 0, 0, "", "");
}

// One edge network of three nodes: record node 0 ('hospital-a'),
// consensus node 1 and index node 2, each with fresh keys, listening on
// 127.0.0.1 from `first_port` on.
struct SmallDeployment {
  std::vector<NodeKeys> keys;
  TopologyPtr topology;
  std::vector<NodeAddress> address;
};

inline SmallDeployment small_deployment(int first_port) {
  SmallDeployment d;
  std::vector<NodeInfo> nodes;
  const char* names[] = {"hospital-a", "consensus-a", "index-a"};
  const NodeRole roles[] = {NodeRole::kRecord, NodeRole::kConsensus, NodeRole::kIndex};
  for (std::uint32_t i = 0; i < 3; ++i) {
    d.keys.push_back(NodeKeys::generate());
    NodeInfo n;
    n.id = NodeId{i};
    n.role = roles[i];
    n.network = NetworkId{0};
    n.key = KeyPair::from_seed(d.keys.back().sign_seed).public_key();
    n.name = names[i];
    nodes.push_back(n);
    d.address.push_back({"tcp://127.0.0.1:" + std::to_string(first_port + static_cast<int>(i)),
                         d.keys.back().curve.public_z85});
  }
  NetworkInfo net;
  net.id = NetworkId{0};
  net.record_nodes = {NodeId{0}};
  net.consensus_nodes = {NodeId{1}};
  net.index_node = NodeId{2};
  net.validators.members = {{NodeId{1}, nodes[1].key}};
  net.validators.quorum = 1;
  d.topology =
      std::make_shared<const Topology>(nodes, std::vector<NetworkInfo>{net}, ProtocolParams{});
  return d;
}

}  // namespace mhr::test
