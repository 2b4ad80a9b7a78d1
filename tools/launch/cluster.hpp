// Cluster: a scenario's nodes as real processes on this machine. Writes
// every node's key file and configuration and the shared topology file,
// starts edge_node / consensus_node / index_node processes, waits until
// each answers, and stops them (SIGTERM, then SIGKILL) — always, also when
// the launcher fails: children die with their parent.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/net/deployment.hpp"
#include "tools/sim/scenario.hpp"

namespace mhr {

class ZmqClient;

struct ClusterOptions {
  std::string dir;      // everything of this run lives here
  std::string bin_dir;  // where the node executables are
  int base_port = 0;    // 0: pick free ports
  bool fsync = true;
  // Runs each edge network's nodes in a network namespace of its own,
  // joined to the others by veth links (needs root and iproute2).
  bool netns = false;
  // By node name: YAML appended to that node's file (e.g. edge_node's fhir:
  // section).
  std::map<std::string, std::string> node_file_extra;
};

class Cluster {
 public:
  Cluster(const Scenario& scenario, const ProtocolParams& params, const ClusterOptions& options);
  ~Cluster();  // stops every process still running
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  void start_all();
  void start(NodeId node);
  void stop(NodeId node);  // SIGTERM, wait, SIGKILL after a grace period
  void kill(NodeId node);  // SIGKILL, no questions
  void stop_all();
  bool running(NodeId node) const;
  // Waits until every record node answers a client request (or throws).
  void wait_ready(TimeUs timeout_us);
  // Asks every running node what work it still has in flight: one line
  // ("name: what") per busy node or node that does not answer in time.
  std::vector<std::string> work_in_flight(TimeUs timeout_us);

  const Deployment& deployment() const { return deployment_; }
  const CurveKeyPair& client_keys() const { return client_keys_; }
  // The launcher's signing key: staff of every record node.
  const Signer& client_signer() const { return *client_signer_; }
  std::string data_dir(NodeId node) const;
  std::string log_file(NodeId node) const;
  std::string name(NodeId node) const;
  std::size_t size() const { return procs_.size(); }
  // The node's process id while it runs (-1 otherwise).
  pid_t pid(NodeId node) const { return procs_.at(node.value).pid; }

 private:
  struct Proc {
    std::string name;
    std::string program;
    std::string config;
    std::string dir;
    std::string netns;  // empty: the launcher's namespace
    pid_t pid = -1;
  };
  void write_files(const Scenario& scenario, const ProtocolParams& params);
  void setup_netns(const Scenario& scenario);
  void teardown_netns();  // best effort, also after a failed setup
  std::string endpoint_for(const Scenario& scenario, NodeId node, int port) const;

  ClusterOptions options_;
  Deployment deployment_;
  CurveKeyPair client_keys_;
  std::unique_ptr<Signer> client_signer_;
  std::vector<Proc> procs_;
  std::map<std::uint32_t, std::unique_ptr<ZmqClient>> status_clients_;  // made when first asked
  std::vector<std::string> namespaces_;
  std::vector<std::string> veths_;
  std::string bridge_;
};

// A TCP port on 127.0.0.1 that nothing listens on right now.
int free_tcp_port();

}  // namespace mhr
