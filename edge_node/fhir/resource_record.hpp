// A FHIR resource <-> a record on the chain. The record's payload is the
// resource as the client sent it (key order kept), with its logical id set
// and the server-owned meta (versionId, lastUpdated, the chain extension)
// left out: those are derived from the record when it is read, so the
// payload never has to know its own position or hash.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "edge_node/fhir/backend.hpp"
#include "edge_node/fhir/outcome.hpp"
#include "edge_node/fhir/resource_types.hpp"

namespace mhr::fhir {

// The meta extension that carries a record's chain position and hash, so a
// client can ask for its inclusion proof.
inline constexpr std::string_view kChainExtensionUrl = "urn:mhr-chain:fhir:chain-record";
// Deeper JSON is refused before it is parsed (the parser and the writer
// recurse; health data never nests this deep).
inline constexpr std::size_t kMaxJsonDepth = 64;

// Parses a JSON body; 400 with the parser's message when malformed.
Result<Json, FhirError> parse_json(std::string_view body);
// A resource of a stored type: an object whose resourceType is known (404
// otherwise) and, when `expected` is given, equal to it (400 otherwise).
Result<Json, FhirError> check_resource(Json resource, std::optional<std::string_view> expected);

// The first reference in the type's patient elements (for a list, the
// first one that points at a Patient); nullopt when there is none.
std::optional<std::string> patient_reference(const Json& resource, const ResourceType& type);
// The patient a resource belongs to: the Patient's own id, or its patient
// reference. 422 when it has none or names no patient of this server.
Result<UserId, FhirError> patient_of(const Json& resource, const ResourceType& type);

// Replaces every Reference.reference found in `map` (urn:uuid:... -> Type/id).
void rewrite_references(Json& node, const std::map<std::string, std::string, std::less<>>& map);

// The payload stored for a resource (compact JSON; resourceType, id, meta
// first).
std::string stored_payload(const Json& resource);
// A stored resource as served: meta.versionId, meta.lastUpdated and the
// chain extension added from the record.
Json presented(const ChainRecord& record, Json resource);

}  // namespace mhr::fhir
