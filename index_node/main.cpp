// index_node: links an edge network to the index chain network.
// Usage: index_node --config node.yaml
#include "tools/node/node_main.hpp"

int main(int argc, char** argv) {
  return mhr::run_node_main(argc, argv, mhr::NodeRole::kIndex, "index_node");
}
