// Test data for the FHIR gateway: a patient's transaction Bundle shaped the
// way Synthea and EHR exports write them (urn:uuid fullUrls and references,
// conditional references to providers, shared Organization and
// Practitioner entries, mixed clinical and billing resources), and the
// helpers that compare what was sent with what is read back.
#pragma once

#include <cstdio>
#include <map>
#include <string>

#include "edge_node/fhir/outcome.hpp"
#include "edge_node/fhir/resource_record.hpp"

namespace mhr::fhir::test {

inline std::string uuid(std::uint64_t seed, std::uint64_t n) {
  char buf[40];
  std::uint64_t a = seed * 0x9E3779B97F4A7C15ull + n * 0xBF58476D1CE4E5B9ull;
  std::uint64_t b = (a ^ (a >> 31)) * 0x94D049BB133111EBull;
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-8%03x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>(a & 0xffff), static_cast<unsigned>(b & 0xfff),
                static_cast<unsigned>((b >> 12) & 0xfff),
                static_cast<unsigned long long>((b >> 24) & 0xffffffffffffull));
  return buf;
}

inline Json coding(const char* system, const char* code, const char* display) {
  return {{"coding", Json::array({{{"system", system}, {"code", code}, {"display", display}}})},
          {"text", display}};
}

// One patient with `encounters` visits of about ten resources each
// (Encounter, Condition, three Observations, DiagnosticReport,
// MedicationRequest, Procedure, Immunization, Claim), plus an Organization
// and a Practitioner. Dates run from 2015 on, one visit a month.
inline Json patient_bundle(std::uint64_t seed, int encounters, const char* type = "transaction") {
  std::uint64_t n = 0;
  Json entries = Json::array();
  auto add = [&](Json resource) {
    const std::string id = uuid(seed, n++);
    resource["id"] = id;
    Json res = Json::object();  // resourceType, id first, as exporters write
    res["resourceType"] = resource["resourceType"];
    res["id"] = id;
    for (auto it = resource.begin(); it != resource.end(); ++it)
      if (it.key() != "resourceType" && it.key() != "id") res[it.key()] = *it;
    const std::string rt = res["resourceType"];
    entries.push_back({{"fullUrl", "urn:uuid:" + id},
                       {"resource", std::move(res)},
                       {"request", {{"method", "POST"}, {"url", rt}}}});
    return "urn:uuid:" + id;
  };
  const std::string patient = add(
      {{"resourceType", "Patient"},
       {"meta", {{"profile", {"http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"}}}},
       {"identifier", Json::array({{{"system", "https://example.org/mrn"},
                                    {"value", "MRN-" + std::to_string(seed)}}})},
       {"name", Json::array({{{"use", "official"},
                              {"family", "Testperson" + std::to_string(seed)},
                              {"given", {"Alex"}}}})},
       {"gender", seed % 2 ? "female" : "male"},
       {"birthDate", "1970-03-1" + std::to_string(seed % 10)},
       {"address",
        Json::array({{{"line", {"1 Main St"}},
                      {"city", "Springfield"},
                      {"extension",
                       Json::array({{{"url", "http://hl7.org/fhir/StructureDefinition/geolocation"},
                                     {"extension", Json::array({{{"url", "latitude"},
                                                                 {"valueDecimal",
                                                                  42.167344139459686}}})}}})}}})}});
  const std::string org =
      add({{"resourceType", "Organization"}, {"name", "Springfield General"}, {"active", true}});
  const std::string doc =
      add({{"resourceType", "Practitioner"},
           {"name", Json::array({{{"family", "Nienow"}, {"prefix", {"Dr."}}}})}});
  for (int v = 0; v < encounters; ++v) {
    char day[48];
    std::snprintf(day, sizeof day, "%04d-%02d-%02d", 2015 + v / 12, v % 12 + 1, 3 + v % 20);
    const std::string start = std::string(day) + "T09:15:00-05:00";
    const std::string end = std::string(day) + "T09:45:00-05:00";
    const std::string enc = add(
        {{"resourceType", "Encounter"},
         {"status", "finished"},
         {"class",
          {{"system", "http://terminology.hl7.org/CodeSystem/v3-ActCode"}, {"code", "AMB"}}},
         {"type",
          Json::array({coding("http://snomed.info/sct", "162673000", "General examination")})},
         {"subject", {{"reference", patient}, {"display", "Alex Testperson"}}},
         {"participant", Json::array({{{"individual", {{"reference", doc}}}}})},
         {"period", {{"start", start}, {"end", end}}},
         {"location",
          Json::array(
              {{{"location", {{"reference", "Location?identifier=https://example.org/loc|L1"}}}}})},
         {"serviceProvider", {{"reference", org}}}});
    const std::string cond =
        add({{"resourceType", "Condition"},
             {"clinicalStatus", coding("http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "active", "Active")},
             {"code", coding("http://snomed.info/sct", "15777000", "Prediabetes")},
             {"subject", {{"reference", patient}}},
             {"encounter", {{"reference", enc}}},
             {"onsetDateTime", start},
             {"recordedDate", start}});
    Json results = Json::array();
    const char* loinc[3][3] = {{"8302-2", "Body Height", "cm"},
                               {"29463-7", "Body Weight", "kg"},
                               {"4548-4", "Hemoglobin A1c", "%"}};
    for (int k = 0; k < 3; ++k) {
      results.push_back(
          {{"reference", add({{"resourceType", "Observation"},
                              {"status", "final"},
                              {"code", coding("http://loinc.org", loinc[k][0], loinc[k][1])},
                              {"subject", {{"reference", patient}}},
                              {"encounter", {{"reference", enc}}},
                              {"effectiveDateTime", start},
                              {"issued", start.substr(0, 19) + ".558-05:00"},
                              {"valueQuantity",
                               {{"value", 60.5 + v * 0.25 + k},
                                {"unit", loinc[k][2]},
                                {"system", "http://unitsofmeasure.org"}}}})}});
    }
    add({{"resourceType", "DiagnosticReport"},
         {"status", "final"},
         {"code", coding("http://loinc.org", "51990-0", "Basic metabolic panel")},
         {"subject", {{"reference", patient}}},
         {"encounter", {{"reference", enc}}},
         {"effectiveDateTime", start},
         {"result", results}});
    const std::string med =
        add({{"resourceType", "MedicationRequest"},
             {"status", "active"},
             {"intent", "order"},
             {"medicationCodeableConcept",
              coding("http://www.nlm.nih.gov/research/umls/rxnorm", "860975", "Metformin 500 MG")},
             {"subject", {{"reference", patient}}},
             {"encounter", {{"reference", enc}}},
             {"authoredOn", start},
             {"requester", {{"reference", doc}}},
             {"reasonReference", Json::array({{{"reference", cond}}})}});
    add({{"resourceType", "Procedure"},
         {"status", "completed"},
         {"code", coding("http://snomed.info/sct", "430193006", "Medication reconciliation")},
         {"subject", {{"reference", patient}}},
         {"encounter", {{"reference", enc}}},
         {"performedPeriod", {{"start", start}, {"end", end}}}});
    add({{"resourceType", "Immunization"},
         {"status", "completed"},
         {"vaccineCode", coding("http://hl7.org/fhir/sid/cvx", "140", "Influenza, seasonal")},
         {"patient", {{"reference", patient}}},
         {"encounter", {{"reference", enc}}},
         {"occurrenceDateTime", start},
         {"primarySource", true}});
    add({{"resourceType", "Claim"},
         {"status", "active"},
         {"type", coding("http://terminology.hl7.org/CodeSystem/claim-type", "professional",
                         "Professional")},
         {"use", "claim"},
         {"patient", {{"reference", patient}}},
         {"billablePeriod", {{"start", start}, {"end", end}}},
         {"created", end},
         {"provider", {{"reference", org}}},
         {"priority",
          coding("http://terminology.hl7.org/CodeSystem/processpriority", "normal", "Normal")},
         {"prescription", {{"reference", med}}},
         {"insurance",
          Json::array(
              {{{"sequence", 1}, {"focal", true}, {"coverage", {{"display", "Medicaid"}}}}})},
         {"item", Json::array({{{"sequence", 1},
                                {"productOrService", coding("http://snomed.info/sct", "162673000",
                                                            "General examination")},
                                {"encounter", Json::array({{{"reference", enc}}})}}})},
         {"total", {{"value", 129.16}, {"currency", "USD"}}}});
  }
  return {{"resourceType", "Bundle"}, {"type", type}, {"entry", std::move(entries)}};
}

// A served resource without what the server adds (meta.versionId,
// meta.lastUpdated, the chain extension) and without its id.
inline Json without_server_fields(Json r) {
  r.erase("id");
  if (r.contains("meta")) {
    Json& meta = r["meta"];
    meta.erase("versionId");
    meta.erase("lastUpdated");
    if (meta.contains("extension")) {
      Json kept = Json::array();
      for (const Json& e : meta["extension"])
        if (e.value("url", "") != kChainExtensionUrl) kept.push_back(e);
      if (kept.empty())
        meta.erase("extension");
      else
        meta["extension"] = kept;
    }
    if (meta.empty()) r.erase("meta");
  }
  return r;
}

// Order-insensitive equality of JSON objects (the key order of a resource
// carries no meaning).
inline bool same_json(const Json& a, const Json& b) {
  return nlohmann::json::parse(a.dump()) == nlohmann::json::parse(b.dump());
}

// What each entry of `sent` should read back as, by the "Type/id" the
// response Bundle gave it: the resource with its references rewritten
// from fullUrls to the new ids, and without id.
inline std::map<std::string, Json> expected_resources(const Json& sent, const Json& response) {
  std::map<std::string, std::string, std::less<>> refs;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < sent["entry"].size(); ++i) {
    std::string location = response["entry"][i]["response"].value("location", "");
    std::string name = location.substr(0, location.find("/_history"));
    names.push_back(name);
    refs[sent["entry"][i]["fullUrl"].get<std::string>()] = name;
    // The gateway maps Type/oldid of a posted resource too.
    const Json& res = sent["entry"][i]["resource"];
    if (res.contains("id") && sent["entry"][i]["request"]["method"] == "POST")
      refs[res["resourceType"].get<std::string>() + "/" + res["id"].get<std::string>()] = name;
  }
  std::map<std::string, Json> out;
  for (std::size_t i = 0; i < sent["entry"].size(); ++i) {
    Json r = sent["entry"][i]["resource"];
    rewrite_references(r, refs);
    out[names[i]] = without_server_fields(r);
  }
  return out;
}

}  // namespace mhr::fhir::test
