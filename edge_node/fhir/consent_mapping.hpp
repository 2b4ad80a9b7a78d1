// An R4 Consent resource read as what it asks of the chain: grants of the
// patient's records to named parties (active permit), revocations (active
// deny), or nothing (draft, proposed, inactive ...). Pure: the gateway
// signs and sends the acts (service.cpp); this only decides what they say.
#pragma once

#include <string>
#include <vector>

#include "common/consent.hpp"
#include "common/result.hpp"
#include "edge_node/fhir/outcome.hpp"

namespace mhr::fhir {

// Identifier systems a Consent's provision.actor[].reference names its
// grantee with: a gateway API-key identity (fhir.api_keys[].name) or a
// record node of the deployment (its name, e.g. net1.r0).
inline constexpr std::string_view kApiKeyActorSystem = "urn:mhr-chain:fhir:api-key";
inline constexpr std::string_view kNodeActorSystem = "urn:mhr-chain:node";
// provision.class / provision.code / provision.securityLabel coding system
// naming a record category (medical, billing, insurance, administrative).
inline constexpr std::string_view kCategorySystem = "urn:mhr-chain:fhir:category";
inline constexpr std::string_view kResourceTypeSystem = "http://hl7.org/fhir/resource-types";
// The meta extension of a stored Consent naming each grant made for it.
inline constexpr std::string_view kConsentGrantExtensionUrl = "urn:mhr-chain:fhir:consent-grant";
inline constexpr std::size_t kMaxConsentActors = 16;

struct ConsentActor {
  std::string system;  // kApiKeyActorSystem or kNodeActorSystem
  std::string value;
  bool operator==(const ConsentActor&) const = default;
};

enum class ConsentEffect {
  kNone,    // stored only: draft, proposed, inactive, rejected, entered-in-error
  kGrant,   // active permit: a grant to each actor
  kRevoke,  // active deny: the actors' grants from other Consents end
};

struct ConsentPlan {
  ConsentEffect effect = ConsentEffect::kNone;
  std::vector<ConsentActor> actors;
  ConsentScope scope;  // kGrant only
  std::string purpose;
  TimeUs not_before_us = 0;
  TimeUs expires_us = 0;
};

// What `consent` (a checked Consent resource) asks for; a grant without a
// provision.period.start is in force at once (not-before 0). 422 when it cannot
// be enforced as written: no actor or an actor not named by one of the
// systems above, a scope the gateway cannot express (nested provisions,
// data, dataPeriod, codes of other systems), a period that ends before it
// starts.
Result<ConsentPlan, FhirError> consent_plan(const Json& consent);

// One grant made for a stored Consent: its statement id and grantee.
struct ConsentGrantNote {
  Hash grant;
  PublicKey grantee;
  bool operator==(const ConsentGrantNote&) const = default;
};
// The grants a stored Consent names in its meta (kConsentGrantExtensionUrl).
std::vector<ConsentGrantNote> consent_grants(const Json& consent);
// Sets the Consent's grant notes (replacing any it carried in).
void set_consent_grants(Json& consent, const std::vector<ConsentGrantNote>& notes);

}  // namespace mhr::fhir
