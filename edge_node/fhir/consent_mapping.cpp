// Consent resources -> consent grants and revocations (pure).
#include "edge_node/fhir/consent_mapping.hpp"

#include <algorithm>

#include "edge_node/fhir/dates.hpp"
#include "edge_node/fhir/resource_types.hpp"

namespace mhr::fhir {

namespace {

// A grant without an end runs until the end of year 9999.
constexpr TimeUs kOpenEndedUs = 253'402'300'800'000'000;

const Json kEmpty = Json::array();

const Json& list_at(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_array() ? *it : kEmpty;
}

std::string str_at(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

FhirError cannot_enforce(const std::string& what) {
  return unprocessable("Consent: " + what);
}

Result<std::vector<ConsentActor>, FhirError> actors_of(const Json& provision) {
  std::vector<ConsentActor> out;
  const Json& actors = list_at(provision, "actor");
  if (actors.empty())
    return err(cannot_enforce("provision.actor names nobody: a grant needs a grantee"));
  if (actors.size() > kMaxConsentActors)
    return err(cannot_enforce("more than " + std::to_string(kMaxConsentActors) + " actors"));
  for (const Json& a : actors) {
    const Json ref = a.is_object() ? a.value("reference", Json::object()) : Json::object();
    if (!ref.is_object()) return err(cannot_enforce("provision.actor.reference must be an object"));
    const Json ident = ref.value("identifier", Json::object());
    ConsentActor actor{str_at(ident, "system"), str_at(ident, "value"), ""};
    const bool identified =
        (actor.system == kApiKeyActorSystem || actor.system == kNodeActorSystem) &&
        !actor.value.empty();
    if (!identified) {
      // A literal reference: the party its resource's identifiers name.
      actor = ConsentActor{"", "", str_at(ref, "reference")};
      if (actor.reference.empty())
        return err(cannot_enforce(
            "provision.actor.reference " + ref.dump() +
            " names no party of this chain: reference a Practitioner, PractitionerRole, "
            "Organization or RelatedPerson whose identifier names it, or use "
            "{\"identifier\": {\"system\": \"" +
            std::string(kApiKeyActorSystem) + "\", \"value\": <API key name>}} or the system " +
            std::string(kNodeActorSystem) + " with a record node's name"));
    }
    out.push_back(std::move(actor));
  }
  return out;
}

// One coding of provision.class, .code or .securityLabel into the scope.
std::optional<FhirError> add_to_scope(const Json& coding, bool types_allowed, ConsentScope& s) {
  const std::string system = str_at(coding, "system"), code = str_at(coding, "code");
  if (system == kCategorySystem) {
    auto c = parse_category(code);
    if (!c) return cannot_enforce("unknown category '" + code + "' (" + std::string(system) + ")");
    s.categories |= static_cast<std::uint8_t>(1u << static_cast<unsigned>(*c));
    return std::nullopt;
  }
  if (system == kResourceTypeSystem && types_allowed) {
    if (!find_resource_type(code))
      return cannot_enforce("provision.class names '" + code + "', not a type stored here");
    if (std::find(s.content_types.begin(), s.content_types.end(), code) == s.content_types.end())
      s.content_types.push_back(code);
    if (s.content_types.size() > kMaxScopeContentTypes)
      return cannot_enforce("more than " + std::to_string(kMaxScopeContentTypes) +
                            " resource types in provision.class");
    return std::nullopt;
  }
  return cannot_enforce("the scope coding " + coding.dump() +
                        " cannot be enforced here (a grant covers record categories, system " +
                        std::string(kCategorySystem) + ", and resource types, system " +
                        std::string(kResourceTypeSystem) + ")");
}

Result<ConsentScope, FhirError> scope_of(const Json& provision) {
  ConsentScope s;
  for (const Json& c : list_at(provision, "class"))
    if (auto e = add_to_scope(c, true, s)) return err(*e);
  for (const Json& label : list_at(provision, "securityLabel"))
    if (auto e = add_to_scope(label, false, s)) return err(*e);
  for (const Json& concept_ : list_at(provision, "code"))
    for (const Json& c : list_at(concept_, "coding"))
      if (auto e = add_to_scope(c, false, s)) return err(*e);
  // Types alone: in whatever category they are.
  if (s.categories == 0) s.categories = ConsentScope::all().categories;
  return s;
}

enum class ConsentKind { kPrivacy, kOther, kUnknown };

// Consent.scope: patient-privacy Consents say who may read; treatment,
// research and advance-directive Consents (e.g. a DNR order) do not, and
// are stored only. A Consent with no scope code is taken as privacy.
ConsentKind kind_of(const Json& consent) {
  auto scope = consent.find("scope");
  if (scope == consent.end() || !scope->is_object()) return ConsentKind::kPrivacy;
  const Json& codings = list_at(*scope, "coding");
  if (codings.empty()) return ConsentKind::kPrivacy;
  for (const Json& c : codings) {
    if (!c.is_object()) continue;
    const std::string system = str_at(c, "system"), code = str_at(c, "code");
    if (!system.empty() && system != kConsentScopeSystem) continue;
    if (code == "patient-privacy") return ConsentKind::kPrivacy;
    if (code == "treatment" || code == "research" || code == "adr") return ConsentKind::kOther;
  }
  return ConsentKind::kUnknown;
}

bool scoped(const Json& provision) {
  return !list_at(provision, "class").empty() || !list_at(provision, "code").empty() ||
         !list_at(provision, "securityLabel").empty();
}

// A grant is for reading: any actions listed must include access or use.
bool permits_reading(const Json& provision) {
  const Json& actions = list_at(provision, "action");
  if (actions.empty()) return true;
  for (const Json& a : actions)
    for (const Json& c : list_at(a, "coding"))
      if (str_at(c, "code") == "access" || str_at(c, "code") == "use") return true;
  return false;
}

std::string purpose_of(const Json& provision) {
  std::string out;
  for (const Json& p : list_at(provision, "purpose")) {
    std::string code = str_at(p, "code");
    if (code.empty()) continue;
    out += (out.empty() ? "" : ",") + code;
  }
  return out;
}

std::optional<FhirError> set_period(const Json& provision, ConsentPlan& plan) {
  const Json period = provision.value("period", Json::object());
  plan.not_before_us = 0;
  plan.expires_us = kOpenEndedUs;
  if (auto start = str_at(period, "start"); !start.empty()) {
    auto r = parse_date_range(start);
    if (!r) return cannot_enforce("provision.period.start '" + start + "' is not a dateTime");
    plan.not_before_us = std::max<TimeUs>(0, r->begin_ms * 1000);
  }
  if (auto end = str_at(period, "end"); !end.empty()) {
    auto r = parse_date_range(end);
    if (!r) return cannot_enforce("provision.period.end '" + end + "' is not a dateTime");
    plan.expires_us = std::min<TimeUs>(kOpenEndedUs, r->end_ms * 1000);
  }
  if (plan.expires_us <= plan.not_before_us)
    return cannot_enforce("provision.period ends before it starts");
  return std::nullopt;
}

}  // namespace

Result<ConsentPlan, FhirError> consent_plan(const Json& consent) {
  MHR_ASSERT(consent.is_object());
  ConsentPlan plan;
  const std::string status = str_at(consent, "status");
  if (status == "draft" || status == "proposed" || status == "inactive" || status == "rejected" ||
      status == "entered-in-error")
    return plan;
  if (status != "active")
    return err(cannot_enforce("status '" + status +
                              "' is not an R4 Consent status (draft, proposed, active, "
                              "rejected, inactive, entered-in-error)"));
  switch (kind_of(consent)) {
    case ConsentKind::kOther:
      return plan;
    case ConsentKind::kUnknown:
      return err(cannot_enforce(
          "scope names no kind of consent known here (system " + std::string(kConsentScopeSystem) +
          ": patient-privacy, treatment, research, adr), so whether it grants access to the "
          "patient's records cannot be told"));
    case ConsentKind::kPrivacy:
      break;
  }
  const Json provision = consent.value("provision", Json::object());
  if (!provision.is_object()) return err(cannot_enforce("provision must be an object"));
  for (const char* narrowing : {"provision", "data", "dataPeriod"})
    if (provision.contains(narrowing))
      return err(cannot_enforce(std::string("provision.") + narrowing +
                                " narrows the grant in a way the chain cannot enforce; express "
                                "the scope with provision.class (categories, resource types)"));
  auto actors = actors_of(provision);
  if (!actors) return err(actors.error());
  plan.actors = std::move(*actors);
  const std::string type = str_at(provision, "type");
  if (type == "deny") {
    if (scoped(provision))
      return err(cannot_enforce(
          "a deny provision revokes the actors' grants whole; to narrow a grant, PUT its "
          "Consent with a narrower provision.class"));
    plan.effect = ConsentEffect::kRevoke;
    return plan;
  }
  if (!type.empty() && type != "permit")
    return err(cannot_enforce("provision.type '" + type + "' is neither permit nor deny"));
  if (!permits_reading(provision))
    return err(cannot_enforce("provision.action permits neither access nor use"));
  auto scope = scope_of(provision);
  if (!scope) return err(scope.error());
  plan.scope = std::move(*scope);
  plan.purpose = purpose_of(provision);
  if (plan.purpose.size() > kMaxPurposeBytes)
    return err(cannot_enforce("provision.purpose is longer than " +
                              std::to_string(kMaxPurposeBytes) + " bytes"));
  if (auto e = set_period(provision, plan)) return err(*e);
  plan.effect = ConsentEffect::kGrant;
  return plan;
}

bool names_a_party(std::string_view resource_type) {
  return resource_type == "Practitioner" || resource_type == "PractitionerRole" ||
         resource_type == "Organization" || resource_type == "RelatedPerson";
}

std::vector<ConsentActor> actor_identifiers(const Json& party) {
  std::vector<ConsentActor> out;
  if (!party.is_object()) return out;
  for (const Json& id : list_at(party, "identifier")) {
    if (!id.is_object()) continue;
    ConsentActor a{str_at(id, "system"), str_at(id, "value"), ""};
    if ((a.system != kApiKeyActorSystem && a.system != kNodeActorSystem) || a.value.empty())
      continue;
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(std::move(a));
  }
  return out;
}

std::vector<ConsentGrantNote> consent_grants(const Json& consent) {
  std::vector<ConsentGrantNote> out;
  if (!consent.contains("meta") || !consent["meta"].is_object()) return out;
  for (const Json& e : list_at(consent["meta"], "extension")) {
    if (!e.is_object() || str_at(e, "url") != kConsentGrantExtensionUrl) continue;
    std::optional<Hash> grant;
    std::optional<FixedBytes<32>> grantee;
    for (const Json& part : list_at(e, "extension")) {
      if (!part.is_object()) continue;
      if (str_at(part, "url") == "grant") grant = Hash::parse_hex(str_at(part, "valueString"));
      if (str_at(part, "url") == "grantee")
        grantee = FixedBytes<32>::parse_hex(str_at(part, "valueString"));
    }
    if (grant && grantee) out.push_back({*grant, PublicKey{*grantee}});
  }
  return out;
}

void set_consent_grants(Json& consent, const std::vector<ConsentGrantNote>& notes) {
  MHR_ASSERT(consent.is_object());
  Json meta =
      consent.contains("meta") && consent["meta"].is_object() ? consent["meta"] : Json::object();
  Json ext = Json::array();
  for (const Json& e : list_at(meta, "extension"))
    if (!(e.is_object() && str_at(e, "url") == kConsentGrantExtensionUrl)) ext.push_back(e);
  for (const ConsentGrantNote& n : notes)
    ext.push_back(
        {{"url", kConsentGrantExtensionUrl},
         {"extension", Json::array({{{"url", "grant"}, {"valueString", n.grant.hex()}},
                                    {{"url", "grantee"}, {"valueString", n.grantee.hex()}}})}});
  if (ext.empty())
    meta.erase("extension");
  else
    meta["extension"] = std::move(ext);
  if (meta.empty())
    consent.erase("meta");
  else
    consent["meta"] = std::move(meta);
}

}  // namespace mhr::fhir
