// edge_node: a hospital's record node. Usage: edge_node --config node.yaml
#include "tools/node/node_main.hpp"

int main(int argc, char** argv) {
  return mhr::run_node_main(argc, argv, mhr::NodeRole::kRecord, "edge_node");
}
