// What clients (a hospital's systems, a patient app, the simulator's
// workload) ask of a record node, and what it answers.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/audit.hpp"
#include "common/blob.hpp"
#include "common/block.hpp"
#include "common/chain_store.hpp"
#include "common/consent.hpp"
#include "common/identity.hpp"
#include "common/merkle.hpp"
#include "common/record.hpp"

namespace mhr {

using ClientRequestId = std::uint64_t;

// Every request but a patient statement carries the requester's Credential
// (identity.hpp), made over the request's encoding without it.

// Register the user at this record node (migrating the history if the user
// holds records elsewhere). Only the patient may ask: `by` is the patient's.
struct RegisterUserRequest {
  UserId user;
  Credential by;
  bool operator==(const RegisterUserRequest&) const = default;
};

// Create a record for a user registered at this node.
struct SubmitRecordRequest {
  UserId user;
  std::string content_type;
  Category category = Category::kMedical;
  SharedBytes payload;
  std::optional<OffChainRef> off_chain;
  std::optional<Hash> supersedes;
  Credential by;  // a clinician or the institution of this node, or the patient
  bool operator==(const SubmitRecordRequest&) const = default;
};

// Read the user's records held by this node that the requester may read:
// all of them for the patient, those the node's institution wrote for its
// staff, and those a grant in force covers for a grantee.
struct ReadUserRequest {
  UserId user;
  Credential by;
  bool operator==(const ReadUserRequest&) const = default;
};

// A patient's signed statement (grant, revocation, key share, erasure): the
// statement's own signature is the credential.
struct PatientActRequest {
  PatientStatement statement;
  bool operator==(const PatientActRequest&) const = default;
};

// The node's audit entries about the user: for the patient, or this node's staff.
struct AuditRequest {
  UserId user;
  Credential by;
  bool operator==(const AuditRequest&) const = default;
};

// Upload part of an off-chain object before the record that names it is
// submitted: first the manifest (part = kManifestPart), then each chunk.
// Same standing as a submission.
struct PutBlobRequest {
  UserId user;
  Hash blob;
  std::uint32_t part = kManifestPart;
  SharedBytes bytes;
  Credential by;
  bool operator==(const PutBlobRequest&) const = default;
};

// Fetch part of an off-chain object named by a record of the user that the
// requester may read. The manifest's reply carries the requester's data keys.
struct ReadBlobRequest {
  UserId user;
  Hash blob;
  std::uint32_t part = kManifestPart;
  Credential by;
  bool operator==(const ReadBlobRequest&) const = default;
};

using ClientRequest =
    std::variant<RegisterUserRequest, SubmitRecordRequest, ReadUserRequest, PatientActRequest,
                 AuditRequest, PutBlobRequest, ReadBlobRequest>;

// The user a request is about.
const UserId& request_user(const ClientRequest& request);
// The requester's credential, or null for a patient statement.
const Credential* credential_of(const ClientRequest& request);

enum class ReplyStatus : std::uint8_t {
  kOk = 0,
  kRejected = 1,     // the request is wrong (e.g. user not registered here)
  kUnavailable = 2,  // could not be done now (retries exhausted); try again
  kDenied = 3,       // the requester may not do this (no consent, bad credential)
};

struct ClientReply {
  ReplyStatus status = ReplyStatus::kOk;
  std::string detail;
  std::optional<Hash> entry_hash;  // the registration or record committed
  std::vector<Record> records;     // for reads
  std::vector<WrappedKey> keys;    // for reads: the data key sealed for the requester
  // For reads: where each record is committed (places[i] for records[i]) and
  // the signed headers those places name, so the client checks every proof.
  std::vector<RecordPlace> proofs;
  std::vector<SignedHeader> headers;

  std::vector<AuditEntry> audit;  // for audit requests
  SharedBytes blob_part;          // for blob reads
  bool operator==(const ClientReply&) const = default;
};

inline ClientReply make_reply(ReplyStatus status, std::string detail,
                              std::optional<Hash> entry_hash = std::nullopt) {
  ClientReply r;
  r.status = status;
  r.detail = std::move(detail);
  r.entry_hash = entry_hash;
  return r;
}

}  // namespace mhr
