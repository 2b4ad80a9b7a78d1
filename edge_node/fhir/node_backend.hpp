// NodeBackend: the FhirBackend of a real record node. It calls the node the
// gateway runs beside through the client API (ZeroMQ, CURVE, with a client
// key the node admits), with a small pool of connections so that HTTP
// worker threads do not wait for each other, and many requests in flight
// per call (a Bundle's records are pipelined).
//
// It acts as the node's institution: requests are signed with the node's
// key, payloads are sealed with the patient's data key before they leave
// and opened after they come back (docs/ACCESS.md); patients created
// through the gateway have their keys kept in custody (custodial_keys.hpp).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "common/client_api.hpp"
#include "common/net/deployment.hpp"
#include "edge_node/fhir/backend.hpp"
#include "edge_node/fhir/custodial_keys.hpp"

namespace mhr {
class ZmqClient;
}

namespace mhr::fhir {

// Who the gateway acts as: the node's institution (it signs with the
// node's key and opens data keys shared with the institution), and where
// it keeps the keys of patients in its custody.
struct Institution {
  NodeId node;
  CryptoMode mode = CryptoMode::kReal;
  SecretSeed seed;       // the node's signing seed
  X25519Public box_key;  // the institution's, as the topology lists it
  std::string custody_file;
  // The API-key identities by name: whether each is external.
  std::map<std::string, bool, std::less<>> identities;
  // The deployment's record nodes by name, as grantees.
  std::map<std::string, Grantee, std::less<>> nodes;
};

// An external identity's own key: derived from the node's seed and the
// identity's name, so it is stable across restarts and never stored.
SecretSeed identity_seed(const SecretSeed& node_seed, std::string_view name);

class NodeBackend final : public FhirBackend {
 public:
  // `stopping` aborts waits when the node shuts down; `timeout_us` is how
  // long a call may go without any reply before it fails as unavailable.
  NodeBackend(std::string endpoint, std::string node_curve_z85, CurveKeyPair client_keys,
              const std::atomic<bool>& stopping, TimeUs timeout_us, Institution institution);
  ~NodeBackend() override;

  UserId new_patient() override;

  std::vector<BackendReply> register_patients(const Identity& who,
                                              std::span<const UserId> users) override;
  std::vector<BackendReply> submit(const Identity& who,
                                   std::span<const NewRecord> records) override;
  BackendRead read(const Identity& who, const UserId& user) override;
  std::optional<Grantee> grantee(std::string_view system, std::string_view value) override;
  std::optional<PatientStatement> sign_as_patient(const UserId& user, PatientAct act,
                                                  std::optional<X25519Public> seal_for) override;
  std::vector<BackendReply> send_acts(const Identity& who,
                                      std::span<const PatientStatement> acts) override;

 private:
  // Sends every request (at most kWindow in flight) and returns the replies
  // in the same order; a request without a reply gets kUnavailable.
  std::vector<ClientReply> exchange(const Identity& who, std::vector<ClientRequest> requests);
  ClientReply share_data_key(const Identity& who, const UserId& user, const SecretSeed& seed,
                             const Signer& patient);
  std::optional<AeadKey> data_key(const UserId& user, const std::vector<WrappedKey>& shared);
  std::optional<AeadKey> external_data_key(const SecretSeed& own,
                                           const std::vector<WrappedKey>& shared);
  std::optional<AeadKey> key_for_writing(const Identity& who, const UserId& user);
  std::unique_ptr<ZmqClient> lease();
  void give_back(std::unique_ptr<ZmqClient> client);

  static constexpr std::size_t kWindow = 256;  // below the sockets' high-water marks
  static constexpr std::size_t kMaxIdle = 8;

  std::string endpoint_;
  std::string node_curve_z85_;
  CurveKeyPair client_keys_;
  const std::atomic<bool>& stopping_;
  TimeUs timeout_us_;
  NodeId node_;
  CryptoMode mode_;
  std::unique_ptr<Signer> signer_;
  X25519KeyPair box_keys_;
  X25519Public box_key_;
  CustodialKeys custody_;
  SecretSeed seed_;
  std::map<std::string, bool, std::less<>> identities_;
  std::map<std::string, Grantee, std::less<>> nodes_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<ZmqClient>> idle_;
};

}  // namespace mhr::fhir
