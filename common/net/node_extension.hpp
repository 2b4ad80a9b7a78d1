// NodeExtension: a service that runs beside a role in the node's process
// (edge_node's FHIR gateway), with its own section of the node file. The
// node main configures it with the other files, starts it once the runtime
// has bound its endpoint, and stops it when the node stops.
#pragma once

#include <atomic>
#include <string>

#include "common/net/deployment.hpp"

namespace mhr {

class NodeExtension {
 public:
  virtual ~NodeExtension() = default;
  // Reads its section of `config.file` (throws ConfigError naming file,
  // line and key). May admit client keys of its own by adding them to
  // `config.client_keys`, before the runtime reads them.
  virtual void configure(NodeConfig& config, const Deployment& deployment) = 0;
  // One line for the start and --check messages; empty when it is off.
  virtual std::string describe() const = 0;
  // Starts serving; `stopping` becomes true when the node is told to stop.
  // Throws std::runtime_error when it cannot (e.g. its port is taken).
  virtual void start(const std::atomic<bool>& stopping) = 0;
  // Stops and waits for work in hand; called before the runtime closes.
  virtual void stop() = 0;
};

}  // namespace mhr
