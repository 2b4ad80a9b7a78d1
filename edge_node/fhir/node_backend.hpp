// NodeBackend: the FhirBackend of a real record node. It calls the node the
// gateway runs beside through the client API (ZeroMQ, CURVE, with a client
// key the node admits), with a small pool of connections so that HTTP
// worker threads do not wait for each other, and many requests in flight
// per call (a Bundle's records are pipelined).
//
// Issue 5 seam: every request the gateway makes goes through
// NodeBackend::exchange(), every record it writes through seal() and every
// record it reads through open() (node_backend.cpp). When client requests
// are signed by their requester and payloads encrypted, those three are
// where the gateway signs as the API key's identity (`who`), encrypts for
// the patient and unwraps the data key it was granted.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "common/client_api.hpp"
#include "common/net/deployment.hpp"
#include "edge_node/fhir/backend.hpp"

namespace mhr {
class ZmqClient;
}

namespace mhr::fhir {

class NodeBackend final : public FhirBackend {
 public:
  // `stopping` aborts waits when the node shuts down; `timeout_us` is how
  // long a call may go without any reply before it fails as unavailable.
  NodeBackend(std::string endpoint, std::string node_curve_z85, CurveKeyPair client_keys,
              const std::atomic<bool>& stopping, TimeUs timeout_us);
  ~NodeBackend() override;

  std::vector<BackendReply> register_patients(const Identity& who,
                                              std::span<const UserId> users) override;
  std::vector<BackendReply> submit(const Identity& who,
                                   std::span<const NewRecord> records) override;
  BackendRead read(const Identity& who, const UserId& user) override;

 private:
  // Sends every request (at most kWindow in flight) and returns the replies
  // in the same order; a request without a reply gets kUnavailable.
  std::vector<ClientReply> exchange(const Identity& who, std::vector<ClientRequest> requests);
  std::unique_ptr<ZmqClient> lease();
  void give_back(std::unique_ptr<ZmqClient> client);

  static constexpr std::size_t kWindow = 256;  // below the sockets' high-water marks
  static constexpr std::size_t kMaxIdle = 8;

  std::string endpoint_;
  std::string node_curve_z85_;
  CurveKeyPair client_keys_;
  const std::atomic<bool>& stopping_;
  TimeUs timeout_us_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<ZmqClient>> idle_;
};

}  // namespace mhr::fhir
