// The one main body of edge_node, consensus_node and index_node: reads the
// node file, the key file and the topology file, checks that they agree
// (role, keys), and runs the role in the ZeroMQ runtime until SIGTERM or
// SIGINT.
#pragma once

#include "common/net/node_extension.hpp"
#include "common/topology.hpp"

namespace mhr {

// `program` names the executable in messages. Returns the process exit
// code: 0 after a clean shutdown, 2 for a configuration or command-line
// error ("program: FILE:LINE:COL: key 'K': message"), 1 for a runtime
// failure. `extension`, when given, runs beside the role (edge_node's FHIR
// gateway); without one, a node file with a fhir: section is refused.
int run_node_main(int argc, char** argv, NodeRole role, const char* program,
                  NodeExtension* extension = nullptr);

}  // namespace mhr
