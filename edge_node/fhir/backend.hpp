// FhirBackend: the narrow interface between the FHIR gateway's core and the
// record node — register a patient, submit records, read a patient's
// records. The core never sees sockets or ciphertext: the real backend
// (node_backend.hpp) talks to the local record node, and is where requests
// get signed and payloads encrypted (issue 5); tests use an in-memory one.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/consent.hpp"
#include "common/record.hpp"
#include "common/types.hpp"

namespace mhr::fhir {

// Who is asking: the identity an API key maps to (fhir.api_keys in the node
// file). Passed with every backend call so that a backend can act as that
// clinician or institution (sign, unwrap keys) rather than as the gateway.
struct Identity {
  std::string name;  // e.g. "dr-smith"
  std::string kind;  // "clinician" or "institution"
  // Not the institution's: reads with a key of its own and sees only what
  // patients' consents grant it; writes nothing.
  bool external = false;
};

// A party a Consent can name (consent_mapping.hpp): the key a grant names
// and, when known, the X25519 key to seal the patient's data key for.
struct Grantee {
  PublicKey key;
  std::optional<X25519Public> box_key;
};

// One record of a patient's timeline as the gateway sees it: the payload in
// plaintext (a backend decrypts before handing it over).
struct ChainRecord {
  Hash hash;
  std::uint32_t network = 0;
  std::uint64_t sequence = 0;  // position in the (user, network) chain
  TimeUs created_at_us = 0;
  std::string content_type;
  Category category = Category::kMedical;
  std::string payload;
  std::optional<Hash> supersedes;
};

// A record to write for a registered patient.
struct NewRecord {
  UserId user;
  std::string content_type;
  Category category = Category::kMedical;
  std::string payload;  // plaintext; a backend encrypts it
  std::optional<Hash> supersedes;
};

enum class BackendStatus {
  kOk,
  kRejected,     // the node refused (e.g. the patient is not registered here)
  kUnavailable,  // could not be done now (time-out, node overloaded)
  kDenied,       // the requester may not read this patient's records
};

struct BackendReply {
  BackendStatus status = BackendStatus::kOk;
  std::string detail;
  std::optional<Hash> hash;  // the committed record or registration
};

struct BackendRead {
  BackendStatus status = BackendStatus::kOk;
  std::string detail;
  std::vector<ChainRecord> records;  // every record of the patient held here
};

class FhirBackend {
 public:
  virtual ~FhirBackend() = default;
  // A new patient's id. The node backend keeps the patient's key in custody
  // (custodial_keys.hpp), since the chain wants the patient's signature to
  // register and to share the data key.
  virtual UserId new_patient() = 0;
  // Registers each user at this node; one reply per user, in order. A user
  // already registered here is answered kOk.

  virtual std::vector<BackendReply> register_patients(const Identity& who,
                                                      std::span<const UserId> users) = 0;
  // Writes the records (pipelined) and waits until each is committed or
  // refused; one reply per record, in order. Records of one user are
  // chained in the order given.
  virtual std::vector<BackendReply> submit(const Identity& who,
                                           std::span<const NewRecord> records) = 0;
  // Every record of `user` held by this node; kRejected when the user is
  // not registered here.
  virtual BackendRead read(const Identity& who, const UserId& user) = 0;

  // The party a Consent's actor names (an API-key identity or a node), or
  // nullopt when there is no such party.
  virtual std::optional<Grantee> grantee(std::string_view system, std::string_view value) = 0;
  // `act` signed as the patient, when the patient's key is in this
  // gateway's custody (nullopt otherwise); a grant gets the data key sealed
  // for `seal_for` when given.
  virtual std::optional<PatientStatement> sign_as_patient(const UserId& user, PatientAct act,
                                                          std::optional<X25519Public> seal_for) = 0;
  // Sends patient acts (pipelined); one reply per act, in order.
  virtual std::vector<BackendReply> send_acts(const Identity& who,
                                              std::span<const PatientStatement> acts) = 0;
};

}  // namespace mhr::fhir
