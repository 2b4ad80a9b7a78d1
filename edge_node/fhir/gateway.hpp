// FhirGateway: the FHIR gateway as an extension of edge_node. Enabled by
// the `fhir:` section of the node file; talks to its own record node
// through the client API with a CURVE key made at start and admitted by
// that node only for the life of the process.
#pragma once

#include <memory>

#include "common/net/node_extension.hpp"
#include "edge_node/fhir/config.hpp"
#include "edge_node/fhir/node_backend.hpp"

namespace mhr::fhir {

class NodeBackend;
class FhirService;
class HttpServer;

class FhirGateway final : public NodeExtension {
 public:
  FhirGateway();
  ~FhirGateway() override;

  void configure(NodeConfig& config, const Deployment& deployment) override;
  std::string describe() const override;
  void start(const std::atomic<bool>& stopping) override;
  void stop() override;

 private:
  FhirConfig config_;
  std::string node_endpoint_;
  std::string node_curve_z85_;
  CurveKeyPair client_keys_;
  Institution institution_;
  std::unique_ptr<NodeBackend> backend_;
  std::unique_ptr<FhirService> service_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace mhr::fhir
