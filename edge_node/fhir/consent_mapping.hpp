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
// Consent.scope's code system; only patient-privacy Consents are about who
// may read the patient's records.
inline constexpr std::string_view kConsentScopeSystem =
    "http://terminology.hl7.org/CodeSystem/consentscope";

// A Consent's grantee: named by an identifier of one of the systems above,
// or by a literal reference to a resource whose identifiers name it
// (resolved by the service: actor_identifiers()).
struct ConsentActor {
  std::string system;     // kApiKeyActorSystem or kNodeActorSystem; empty for a reference
  std::string value;      // the identifier's value
  std::string reference;  // e.g. "Practitioner/<id>"; set when system is empty
  bool operator==(const ConsentActor&) const = default;
};

enum class ConsentEffect {
  kNone,    // stored only: draft, proposed, inactive, rejected, entered-in-error,
            // and Consents whose scope is not patient-privacy (treatment, research, adr)
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
// be enforced as written: a scope code that says neither privacy nor another
// known kind of consent, no actor or an actor named neither by one of the
// systems above nor by a literal reference, a scope the gateway cannot
// express (nested provisions, data, dataPeriod, codes of other systems), a
// period that ends before it starts.
Result<ConsentPlan, FhirError> consent_plan(const Json& consent);

// The resource types a Consent actor's literal reference may name: those
// that stand for a party and carry identifiers.
bool names_a_party(std::string_view resource_type);
// The identities among a party resource's identifier[] (systems
// kApiKeyActorSystem and kNodeActorSystem), in order, without repeats;
// identifiers of other systems are left out.
std::vector<ConsentActor> actor_identifiers(const Json& party);

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
