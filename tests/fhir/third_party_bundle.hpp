// Patient bundles written by other tools (HL7's examples, IPS documents,
// Synthea) as the transaction a client would POST to this gateway. Shared
// by the process test that imports them and the fuzz corpus seeded with them.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "edge_node/fhir/resource_record.hpp"

namespace mhr::fhir::test {

struct ThirdPartyBundle {
  Json transaction;
  // The reference its entries use for a patient who is not in the Bundle
  // (lab reports about a patient the sender expects on the server); empty
  // when the Bundle has its Patient entry.
  std::string absent_patient;
};

// A `transaction` Bundle as it is; a `document` or `collection` as a
// transaction whose entries are its entries, each POSTed. nullopt for other
// Bundles (e.g. Synthea's batch files of shared resources) and for one
// without a Patient entry whose entries name other than one patient.
inline std::optional<ThirdPartyBundle> as_transaction(Json bundle) {
  const std::string type = bundle.value("type", "");
  if (type != "transaction" && type != "document" && type != "collection") return std::nullopt;
  if (!bundle.contains("entry") || !bundle["entry"].is_array()) return std::nullopt;
  bool has_patient = false;
  std::set<std::string> patient_refs;
  for (Json& e : bundle["entry"]) {
    const std::string rt = e["resource"].value("resourceType", "");
    has_patient = has_patient || rt == "Patient";
    if (type != "transaction") e["request"] = {{"method", "POST"}, {"url", rt}};
    for (const char* element : {"subject", "patient"})
      if (e["resource"].contains(element) && e["resource"][element].is_object())
        patient_refs.insert(e["resource"][element].value("reference", ""));
  }
  bundle["type"] = "transaction";
  if (has_patient) return ThirdPartyBundle{std::move(bundle), ""};
  if (patient_refs.size() != 1) return std::nullopt;
  return ThirdPartyBundle{std::move(bundle), *patient_refs.begin()};
}

// Points the references to the Bundle's absent patient at `patient`
// ("Patient/<id>"), as a client does for the patient it means.
inline void point_at_patient(ThirdPartyBundle& b, const std::string& patient) {
  if (b.absent_patient.empty()) return;
  const std::map<std::string, std::string, std::less<>> refs{{b.absent_patient, patient}};
  for (Json& e : b.transaction["entry"]) rewrite_references(e["resource"], refs);
}

}  // namespace mhr::fhir::test
