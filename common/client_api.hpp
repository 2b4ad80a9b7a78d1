// What clients (a hospital's systems, a patient app, the simulator's
// workload) ask of a record node, and what it answers.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/record.hpp"

namespace mhr {

using ClientRequestId = std::uint64_t;

// Register the user at this record node (migrating the history if the user
// holds records elsewhere).
struct RegisterUserRequest {
  UserId user;
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
  bool operator==(const SubmitRecordRequest&) const = default;
};

// Read every record of the user held by this node.
struct ReadUserRequest {
  UserId user;
  bool operator==(const ReadUserRequest&) const = default;
};

using ClientRequest = std::variant<RegisterUserRequest, SubmitRecordRequest, ReadUserRequest>;

enum class ReplyStatus : std::uint8_t {
  kOk = 0,
  kRejected = 1,     // the request is wrong (e.g. user not registered here)
  kUnavailable = 2,  // could not be done now (retries exhausted); try again
};

struct ClientReply {
  ReplyStatus status = ReplyStatus::kOk;
  std::string detail;
  std::optional<Hash> entry_hash;  // the registration or record committed
  std::vector<Record> records;     // for reads
  bool operator==(const ClientReply&) const = default;
};

}  // namespace mhr
