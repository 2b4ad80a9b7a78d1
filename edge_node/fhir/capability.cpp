// What the gateway supports, per resource type, as FHIR expects it listed.
#include "edge_node/fhir/capability.hpp"

#include "edge_node/fhir/resource_types.hpp"

namespace mhr::fhir {

Json capability_statement(const std::string& base_url) {
  Json resources = Json::array();
  for (const ResourceType& t : resource_types()) {
    Json interactions = Json::array();
    for (const char* code : {"read", "vread", "update", "history-instance"})
      interactions.push_back({{"code", code}});
    if (!t.shared) interactions.push_back({{"code", "create"}});
    Json params = Json::array();
    if (t.name == "Patient") {
      params.push_back({{"name", "_id"}, {"type", "token"}});
    } else if (!t.shared) {
      interactions.push_back({{"code", "search-type"}});
      params.push_back({{"name", "patient"}, {"type", "reference"}});
      params.push_back({{"name", "subject"}, {"type", "reference"}});
      if (!t.date_elements[0].empty()) params.push_back({{"name", "date"}, {"type", "date"}});
    }
    if (t.name == "Patient") interactions.push_back({{"code", "search-type"}});
    Json r = {{"type", t.name},
              {"interaction", std::move(interactions)},
              {"versioning", "versioned-update"},
              {"readHistory", true},
              {"updateCreate", true},
              {"conditionalCreate", false},
              {"conditionalUpdate", false},
              {"conditionalDelete", "not-supported"}};
    if (!params.empty()) r["searchParam"] = std::move(params);
    if (t.shared)
      r["documentation"] =
          "No patient of its own: created inside a patient's transaction Bundle and stored on "
          "that patient's timeline.";
    if (t.name == "Patient")
      r["operation"] = Json::array(
          {{{"name", "everything"},
            {"definition", "http://hl7.org/fhir/OperationDefinition/Patient-everything"}}});
    resources.push_back(std::move(r));
  }
  Json rest = {
      {"mode", "server"},
      {"documentation",
       "Records are permanent: DELETE is refused, a PUT adds a version that supersedes the "
       "previous one. versionId is the record's chain position <network>.<sequence>; "
       "meta.extension urn:mhr-chain:fhir:chain-record carries network, sequence and hash."},
      {"security",
       {{"description",
         "Authorization: Bearer <API key>; the node file maps keys to "
         "clinician or institution identities."}}},
      {"resource", std::move(resources)},
      {"interaction", Json::array({{{"code", "transaction"}}, {{"code", "batch"}}})}};
  return {{"resourceType", "CapabilityStatement"},
          {"status", "active"},
          {"date", "2024-01-01"},
          {"kind", "instance"},
          {"software", {{"name", "MHR chain FHIR gateway"}}},
          {"implementation", {{"description", "MHR chain record node"}, {"url", base_url}}},
          {"fhirVersion", "4.0.1"},
          {"format", Json::array({"application/fhir+json", "json"})},
          {"rest", Json::array({std::move(rest)})}};
}

}  // namespace mhr::fhir
