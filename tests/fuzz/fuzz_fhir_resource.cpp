// libFuzzer target: one FHIR resource as a client sends it, through the
// gateway's ingestion layer without the service around it: JSON parsing
// (depth-limited), the resource type check, the patient a resource belongs
// to, the payload stored on the chain, Consent mapping, `urn:uuid:`
// reference rewriting and date elements. fuzz_fhir drives the whole service
// with whole Bundles and is slow by nature; this one reaches the same parsing
// and mapping code thousands of times faster. Properties: nothing throws;
// every refusal is a FHIR error with its status; what is stored parses
// back to the same resource and is stored again byte for byte.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "edge_node/fhir/consent_mapping.hpp"
#include "edge_node/fhir/dates.hpp"
#include "edge_node/fhir/ids.hpp"
#include "edge_node/fhir/resource_record.hpp"
#include "edge_node/fhir/resource_types.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace mhr;
using namespace mhr::fhir;

namespace {

bool known_status(const FhirError& e) {
  return e.status == 400 || e.status == 404 || e.status == 413 || e.status == 422;
}

// The stored payload is a fixed point: parsed and stored again, it is the
// same bytes, and it is the same resource.
void check_payload(const Json& resource) {
  const std::string payload = stored_payload(resource);
  auto again = parse_json(payload);
  FUZZ_CHECK(again.ok());
  auto checked = check_resource(std::move(again).value(), std::nullopt);
  FUZZ_CHECK(checked.ok());
  FUZZ_CHECK(stored_payload(checked.value()) == payload);
}

void check_patient(const Json& resource, const ResourceType& type) {
  auto user = patient_of(resource, type);
  if (!user.ok()) {
    FUZZ_CHECK(known_status(user.error()));
    return;
  }
  // A patient's id names its user, both ways.
  const auto back = user_of_patient_id(patient_id(user.value()));
  FUZZ_CHECK(back && *back == user.value());
}

void check_mappings(Json resource, const ResourceType& type) {
  if (type.name == "Consent") {
    auto plan = consent_plan(resource);
    if (!plan.ok()) FUZZ_CHECK(known_status(plan.error()));
  }
  for (std::string_view stem : type.date_elements)
    if (!stem.empty()) (void)element_date_range(resource, stem);
  // A Bundle entry's urn:uuid: references become Type/id; afterwards the
  // resource still stores.
  const std::map<std::string, std::string, std::less<>> map{
      {"urn:uuid:00000000-0000-0000-0000-000000000001", "Patient/p1"},
      {"urn:uuid:00000000-0000-0000-0000-000000000002", "Practitioner/d1"}};
  rewrite_references(resource, map);
  check_payload(resource);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_json(body);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.error().status == 400);
    return 0;
  }
  auto checked = check_resource(std::move(parsed).value(), std::nullopt);
  if (!checked.ok()) {
    FUZZ_CHECK(known_status(checked.error()));
    return 0;
  }
  const Json& resource = checked.value();
  const ResourceType* type = find_resource_type(resource.at("resourceType").get<std::string>());
  FUZZ_CHECK(type != nullptr);
  check_patient(resource, *type);
  check_payload(resource);
  check_mappings(resource, *type);
  return 0;
}
