// OperationOutcome bodies and HTTP status lines.
#include "edge_node/fhir/outcome.hpp"

namespace mhr::fhir {

FhirError bad_request(std::string d) {
  return {400, "invalid", std::move(d)};
}
FhirError not_found(std::string d) {
  return {404, "not-found", std::move(d)};
}
FhirError forbidden(std::string d) {
  return {403, "forbidden", std::move(d)};
}

FhirError unprocessable(std::string d) {
  return {422, "business-rule", std::move(d)};
}
FhirError unavailable(std::string d) {
  return {503, "transient", std::move(d)};
}
FhirError too_large(std::string d) {
  return {413, "too-costly", std::move(d)};
}
FhirError method_not_allowed(std::string d) {
  return {405, "not-supported", std::move(d)};
}

Json operation_outcome(const FhirError& error) {
  Json issue = {{"severity", error.status >= 500 ? "fatal" : "error"},
                {"code", error.code},
                {"diagnostics", error.diagnostics}};
  return {{"resourceType", "OperationOutcome"}, {"issue", Json::array({issue})}};
}

Json operation_outcome_info(const std::string& diagnostics) {
  Json issue = {
      {"severity", "information"}, {"code", "informational"}, {"diagnostics", diagnostics}};
  return {{"resourceType", "OperationOutcome"}, {"issue", Json::array({issue})}};
}

std::string status_line(int status) {
  const char* reason = "";
  switch (status) {
    case 200:
      reason = "OK";
      break;
    case 201:
      reason = "Created";
      break;
    case 400:
      reason = "Bad Request";
      break;
    case 401:
      reason = "Unauthorized";
      break;
    case 404:
      reason = "Not Found";
      break;
    case 403:
      reason = "Forbidden";
      break;
    case 405:
      reason = "Method Not Allowed";
      break;
    case 409:
      reason = "Conflict";
      break;
    case 412:
      reason = "Precondition Failed";
      break;
    case 413:
      reason = "Payload Too Large";
      break;
    case 422:
      reason = "Unprocessable Entity";
      break;
    case 500:
      reason = "Internal Server Error";
      break;
    case 503:
      reason = "Service Unavailable";
      break;
    default:
      break;
  }
  return std::to_string(status) + (*reason ? std::string(" ") + reason : "");
}

}  // namespace mhr::fhir
