// consensus_node: orders an edge network's records into blocks.
// Usage: consensus_node --config node.yaml
#include "tools/node/node_main.hpp"

int main(int argc, char** argv) {
  return mhr::run_node_main(argc, argv, mhr::NodeRole::kConsensus, "consensus_node");
}
