// The table of stored resource types (FHIR R4 patient compartment plus the
// shared types patient bundles carry).
#include "edge_node/fhir/resource_types.hpp"

namespace mhr::fhir {

namespace {

using C = Category;
constexpr C kMed = C::kMedical;
constexpr C kBill = C::kBilling;
constexpr C kIns = C::kInsurance;
constexpr C kAdm = C::kAdministrative;

// Category decides who may read under a scoped consent (issue 5): bills and
// insurance data are separable from medical records.
constexpr ResourceType kTypes[] = {
    {"Patient", kAdm, {}, {}, false},
    {"Account", kBill, {"subject"}, {"servicePeriod"}, false},
    {"AdverseEvent", kMed, {"subject"}, {"date"}, false},
    {"AllergyIntolerance", kMed, {"patient"}, {"recordedDate", "onset"}, false},
    {"AppointmentResponse", kMed, {"actor"}, {"start"}, false},
    {"Basic", kAdm, {"subject"}, {"created"}, false},
    {"BodyStructure", kMed, {"patient"}, {}, false},
    {"CarePlan", kMed, {"subject"}, {"period"}, false},
    {"CareTeam", kMed, {"subject"}, {"period"}, false},
    {"ChargeItem", kBill, {"subject"}, {"occurrence"}, false},
    {"Claim", kBill, {"patient"}, {"created"}, false},
    {"ClaimResponse", kIns, {"patient"}, {"created"}, false},
    {"ClinicalImpression", kMed, {"subject"}, {"date"}, false},
    {"Communication", kMed, {"subject"}, {"sent"}, false},
    {"CommunicationRequest", kMed, {"subject"}, {"authoredOn"}, false},
    {"Composition", kMed, {"subject"}, {"date"}, false},
    {"Condition", kMed, {"subject"}, {"onset", "recordedDate"}, false},
    {"Consent", kAdm, {"patient"}, {"dateTime"}, false},
    {"Coverage", kIns, {"beneficiary"}, {"period"}, false},
    {"CoverageEligibilityRequest", kIns, {"patient"}, {"created"}, false},
    {"CoverageEligibilityResponse", kIns, {"patient"}, {"created"}, false},
    {"DetectedIssue", kMed, {"patient"}, {"identified"}, false},
    {"Device", kMed, {"patient"}, {}, false},
    {"DeviceRequest", kMed, {"subject"}, {"authoredOn"}, false},
    {"DeviceUseStatement", kMed, {"subject"}, {"recordedOn"}, false},
    {"DiagnosticReport", kMed, {"subject"}, {"effective", "issued"}, false},
    {"DocumentManifest", kMed, {"subject"}, {"created"}, false},
    {"DocumentReference", kMed, {"subject"}, {"date"}, false},
    {"Encounter", kMed, {"subject"}, {"period"}, false},
    {"EnrollmentRequest", kIns, {"candidate"}, {"created"}, false},
    {"EpisodeOfCare", kMed, {"patient"}, {"period"}, false},
    {"ExplanationOfBenefit", kBill, {"patient"}, {"created"}, false},
    {"FamilyMemberHistory", kMed, {"patient"}, {"date"}, false},
    {"Flag", kMed, {"subject"}, {"period"}, false},
    {"Goal", kMed, {"subject"}, {"start"}, false},
    {"ImagingStudy", kMed, {"subject"}, {"started"}, false},
    {"Immunization", kMed, {"patient"}, {"occurrence"}, false},
    {"ImmunizationEvaluation", kMed, {"patient"}, {"date"}, false},
    {"ImmunizationRecommendation", kMed, {"patient"}, {"date"}, false},
    {"Invoice", kBill, {"subject"}, {"date"}, false},
    {"List", kMed, {"subject"}, {"date"}, false},
    {"MeasureReport", kMed, {"subject"}, {"date"}, false},
    {"Media", kMed, {"subject"}, {"created"}, false},
    {"MedicationAdministration", kMed, {"subject"}, {"effective"}, false},
    {"MedicationDispense", kMed, {"subject"}, {"whenHandedOver"}, false},
    {"MedicationRequest", kMed, {"subject"}, {"authoredOn"}, false},
    {"MedicationStatement", kMed, {"subject"}, {"effective"}, false},
    {"MolecularSequence", kMed, {"patient"}, {}, false},
    {"NutritionOrder", kMed, {"patient"}, {"dateTime"}, false},
    {"Observation", kMed, {"subject"}, {"effective", "issued"}, false},
    {"Procedure", kMed, {"subject"}, {"performed"}, false},
    {"Provenance", kAdm, {"patient", "target"}, {"recorded"}, false},
    {"QuestionnaireResponse", kMed, {"subject"}, {"authored"}, false},
    {"RelatedPerson", kAdm, {"patient"}, {}, false},
    {"RequestGroup", kMed, {"subject"}, {"authoredOn"}, false},
    {"ResearchSubject", kMed, {"individual"}, {"period"}, false},
    {"RiskAssessment", kMed, {"subject"}, {"occurrence"}, false},
    {"ServiceRequest", kMed, {"subject"}, {"authoredOn"}, false},
    {"Specimen", kMed, {"subject"}, {"receivedTime"}, false},
    {"SupplyDelivery", kMed, {"patient"}, {"occurrence"}, false},
    {"Task", kMed, {"for"}, {"authoredOn"}, false},
    {"VisionPrescription", kMed, {"patient"}, {"dateWritten"}, false},
    // Shared: no patient of their own. A Binary is a document's content
    // (a DocumentReference points at it), hence medical.
    {"Binary", kMed, {}, {}, true},
    {"Location", kAdm, {}, {}, true},
    {"Medication", kMed, {}, {}, true},
    {"Organization", kAdm, {}, {}, true},
    {"Practitioner", kAdm, {}, {}, true},
    {"PractitionerRole", kAdm, {}, {}, true},
    {"Substance", kMed, {}, {}, true},
};

}  // namespace

std::span<const ResourceType> resource_types() {
  return kTypes;
}

const ResourceType* find_resource_type(std::string_view name) {
  for (const ResourceType& t : kTypes)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace mhr::fhir
