// Wiring the FHIR gateway into edge_node: config, backend, service, server.
#include "edge_node/fhir/gateway.hpp"

#include <csignal>

#include "common/crypto.hpp"
#include "edge_node/fhir/http_server.hpp"
#include "edge_node/fhir/node_backend.hpp"
#include "edge_node/fhir/service.hpp"

namespace mhr::fhir {

namespace {

// Where this process reaches its own node: the bound endpoint, with a
// wildcard host replaced by the loopback address.
std::string local_endpoint(const std::string& listen) {
  for (const char* any : {"tcp://0.0.0.0:", "tcp://*:"})
    if (listen.rfind(any, 0) == 0)
      return "tcp://127.0.0.1:" + listen.substr(std::string_view(any).size());
  if (listen.rfind("tcp://[::]:", 0) == 0) return "tcp://[::1]:" + listen.substr(11);
  return listen;
}

}  // namespace

FhirGateway::FhirGateway() = default;
FhirGateway::~FhirGateway() {
  stop();
}

void FhirGateway::configure(NodeConfig& config, const Deployment& deployment) {
  config_ = load_fhir_config(config.file);
  if (!config_.enabled) return;
  node_endpoint_ = local_endpoint(config.listen);
  node_curve_z85_ = deployment.address.at(config.id.value).curve_z85;
  // A key of its own, never written anywhere: only this process can use it.
  client_keys_ = CurveKeyPair::generate();
  config.client_keys.push_back(client_keys_.public_z85);
  // The gateway is the institution's system: it acts with the node's key.
  const NodeInfo& self = deployment.topology->node(config.id);
  institution_ = Institution{config.id,
                             deployment.topology->params().crypto,
                             load_key_file(config.key_file).sign_seed,
                             self.box_key,
                             config.data_dir + "/fhir-custody.keys",
                             {},
                             {}};
  for (const ApiKey& k : config_.api_keys) institution_.identities[k.name] = k.external;
  // Consents may name any record node of the deployment as grantee.
  for (const NodeInfo& n : deployment.topology->nodes())
    if (n.role == NodeRole::kRecord)
      institution_.nodes[n.name] =
          Grantee{n.key, n.box_key.is_zero() ? std::nullopt : std::optional(n.box_key)};
}

std::string FhirGateway::describe() const {
  if (!config_.enabled) return "";
  return std::string("FHIR gateway on ") + (config_.tls_cert.empty() ? "http://" : "https://") +
         config_.host + ":" + std::to_string(config_.port) + "/fhir (" +
         std::to_string(config_.api_keys.size()) + " API keys)";
}

void FhirGateway::start(const std::atomic<bool>& stopping) {
  if (!config_.enabled) return;
  // An HTTP client that hangs up mid-answer must not kill the record node:
  // OpenSSL writes to the socket with write(), which raises SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  backend_ = std::make_unique<NodeBackend>(node_endpoint_, node_curve_z85_, client_keys_, stopping,
                                           config_.node_timeout_us, institution_);

  service_ = std::make_unique<FhirService>(*backend_, secure_random_u64,
                                           ServiceLimits{config_.max_bundle_entries});
  server_ = std::make_unique<HttpServer>(*service_, config_);
  server_->start();
}

void FhirGateway::stop() {
  if (server_) server_->stop();
  server_.reset();
  service_.reset();
  backend_.reset();
}

}  // namespace mhr::fhir
