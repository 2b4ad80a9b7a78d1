// The resource types the gateway stores, and per type: the record category,
// the elements that name the patient, and the elements `date` searches.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string_view>

#include "common/record.hpp"

namespace mhr::fhir {

struct ResourceType {
  std::string_view name;
  Category category = Category::kMedical;
  // Elements holding the Reference (or list of References) to the patient,
  // in order of preference; empty for Patient and for shared types.
  std::array<std::string_view, 2> patient_elements{};
  // Elements the `date` search parameter looks at; a choice element is
  // named by its stem ("effective" matches effectiveDateTime/Period/Instant).
  std::array<std::string_view, 2> date_elements{};
  // Not in a patient's compartment (Organization, Practitioner, Medication,
  // ...): stored on the timeline of the patient of the Bundle it came in.
  bool shared = false;
};

// Every type the gateway stores, Patient first.
std::span<const ResourceType> resource_types();
const ResourceType* find_resource_type(std::string_view name);

}  // namespace mhr::fhir
