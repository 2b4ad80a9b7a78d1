// The CapabilityStatement served at GET /fhir/metadata.
#pragma once

#include "edge_node/fhir/outcome.hpp"

namespace mhr::fhir {

// `base_url` is where the server is reached (implementation.url).
Json capability_statement(const std::string& base_url);

}  // namespace mhr::fhir
