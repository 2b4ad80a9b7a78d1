// FHIR errors: an HTTP status and an OperationOutcome explaining it. Every
// refusal of the gateway is one of these, so clients always get a FHIR body.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace mhr::fhir {

using Json = nlohmann::ordered_json;  // keeps the key order of what clients sent

struct FhirError {
  int status = 400;
  std::string code;  // OperationOutcome.issue.code, e.g. "invalid", "not-found"
  std::string diagnostics;
};

FhirError bad_request(std::string diagnostics);         // 400 invalid
FhirError not_found(std::string diagnostics);           // 404 not-found
FhirError forbidden(std::string diagnostics);           // 403 forbidden
FhirError unprocessable(std::string diagnostics);       // 422 business-rule
FhirError unavailable(std::string diagnostics);         // 503 transient
FhirError too_large(std::string diagnostics);           // 413 too-costly
FhirError method_not_allowed(std::string diagnostics);  // 405 not-supported

// An OperationOutcome with one issue per error (severity error), or with an
// information issue when `errors` is empty.
Json operation_outcome(const FhirError& error);
Json operation_outcome_info(const std::string& diagnostics);

// "404 Not Found": the status line form Bundle.entry.response.status takes.
std::string status_line(int status);

}  // namespace mhr::fhir
