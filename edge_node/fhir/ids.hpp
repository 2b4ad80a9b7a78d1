// Logical ids of the FHIR gateway and how they name chain objects.
//
//  * A Patient's id is its chain UserId in 64 lowercase hex digits: the id
//    `mhr read --user` takes, and (issue 5) the hash of the patient's key.
//  * Every other resource's id names its patient too, so that
//    GET /fhir/{type}/{id} finds the timeline to read without an index:
//    52 base32 characters of the UserId, '-', 11 random base32 characters
//    (64 characters, FHIR's limit). Any gateway of any node holding the
//    patient can serve it, and nothing has to be rebuilt after a restart.
//  * versionId is the record's chain position "<network>.<sequence>".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/types.hpp"

namespace mhr::fhir {

inline constexpr std::size_t kMaxIdLength = 64;  // FHIR id: [A-Za-z0-9\-\.]{1,64}

// FHIR's id syntax.
bool valid_id(std::string_view id);

std::string patient_id(const UserId& user);
// The user of a Patient id; nullopt unless 64 lowercase hex digits.
std::optional<UserId> user_of_patient_id(std::string_view id);

// A new id for a resource of `user`; `random` supplies the unique part.
std::string new_resource_id(const UserId& user, std::uint64_t random);
// The user a (non-Patient) resource id belongs to; nullopt when the id is
// not one of this gateway's.
std::optional<UserId> user_of_resource_id(std::string_view id);

struct ChainPosition {
  std::uint32_t network = 0;
  std::uint64_t sequence = 0;
  bool operator==(const ChainPosition&) const = default;
};
std::string version_id(ChainPosition p);
std::optional<ChainPosition> parse_version_id(std::string_view v);

// The user named by a reference to a Patient: "Patient/<id>", an absolute
// ".../Patient/<id>", either with "/_history/<v>". nullopt otherwise.
std::optional<UserId> user_of_patient_reference(std::string_view reference);
// Whether a reference points at a Patient at all (of this server or not).
bool is_patient_reference(std::string_view reference);

}  // namespace mhr::fhir
