// The HTTP binding of the FHIR gateway: cpp-httplib on its own threads
// inside edge_node. It authenticates the API key, bounds the body, turns
// the HTTP request into a FhirRequest for FhirService and writes its
// answer back. Nothing FHIR-specific is decided here.
#pragma once

#include <memory>
#include <thread>

#include "edge_node/fhir/config.hpp"
#include "edge_node/fhir/service.hpp"

namespace httplib {
class Server;
}

namespace mhr::fhir {

// The identity whose key hashes to `key`'s SHA-256, if any; compares in
// constant time per entry.
std::optional<Identity> authenticate(const std::vector<ApiKey>& keys, std::string_view key);

class HttpServer {
 public:
  HttpServer(FhirService& service, const FhirConfig& config);
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (throws std::runtime_error when it cannot, or when the
  // TLS files do not load) and serves on a thread of its own.
  void start();
  void stop();  // waits for requests in hand to finish

 private:
  FhirService& service_;
  FhirConfig config_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace mhr::fhir
