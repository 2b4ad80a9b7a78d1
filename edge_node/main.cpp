// edge_node: a hospital's record node. Usage: edge_node --config node.yaml
#include "edge_node/fhir/gateway.hpp"
#include "tools/node/node_main.hpp"

int main(int argc, char** argv) {
  mhr::fhir::FhirGateway fhir;  // serves FHIR when the node file has a fhir: section
  return mhr::run_node_main(argc, argv, mhr::NodeRole::kRecord, "edge_node", &fhir);
}
