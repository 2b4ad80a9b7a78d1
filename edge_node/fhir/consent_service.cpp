// Consent resources written through the gateway become the patient's acts:
// an active permit a grant to each actor, a PUT the revocation of the
// grants of the version it supersedes, an active deny the revocation of the
// actors' grants from the patient's other Consents. The gateway signs them
// for patients whose keys it keeps in custody, and refuses otherwise.
#include <algorithm>

#include "edge_node/fhir/consent_mapping.hpp"
#include "edge_node/fhir/ids.hpp"
#include "edge_node/fhir/service.hpp"

namespace mhr::fhir {

namespace {

std::string actor_name(const ConsentActor& a) {
  return a.system + "|" + a.value;
}

// "Type/id" of a literal reference, relative or on this server's base;
// empty for anything else (urn:uuid: outside its Bundle, other servers).
std::string local_reference(std::string_view ref, const std::string& base_url) {
  if (!base_url.empty() && ref.starts_with(base_url + "/")) ref.remove_prefix(base_url.size() + 1);
  const std::size_t slash = ref.find('/');
  if (slash == std::string_view::npos || slash == 0 || ref.find('/', slash + 1) != ref.npos ||
      !valid_id(ref.substr(slash + 1)))
    return "";
  return std::string(ref);
}

// Grants named by the current version of every Consent of the patient.
std::vector<ConsentGrantNote> grants_in_timeline(const Timeline& t) {
  std::vector<ConsentGrantNote> out;
  for (const ResourceHistory* h : t.resources())
    if (h->type == "Consent")
      for (const ConsentGrantNote& n : consent_grants(h->current().resource)) out.push_back(n);
  return out;
}

}  // namespace

Result<Grantee, FhirError> FhirService::consent_grantee(const Identity& who, const UserId& user,
                                                        const ConsentActor& actor,
                                                        const std::string& base_url,
                                                        const BundleResources& bundle,
                                                        std::optional<Timeline>& timeline) {
  if (actor.reference.empty()) {
    auto g = backend_.grantee(actor.system, actor.value);
    if (!g)
      return err(unprocessable("Consent: provision.actor " + actor_name(actor) +
                               " is no party of this chain (not an API key of this gateway, "
                               "nor a record node of the deployment)"));
    return *g;
  }
  const std::string what = "Consent: provision.actor.reference '" + actor.reference + "'";
  const std::string name = local_reference(actor.reference, base_url);
  if (name.empty())
    return err(unprocessable(what +
                             " is not a reference to a resource of this server (Type/id), so "
                             "the party it names cannot be known"));
  const std::string type = name.substr(0, name.find('/'));
  if (!names_a_party(type))
    return err(unprocessable(what + " refers to type " + type +
                             ", which is no party: a grantee is a Practitioner, PractitionerRole, "
                             "Organization or RelatedPerson"));
  const Json* party = nullptr;
  if (auto it = bundle.find(name); it != bundle.end()) party = it->second;
  if (!party) {
    if (!timeline) {
      auto t = load(who, user);
      if (!t && t.error().status != 404) return err(t.error());
      timeline.emplace(t ? std::move(*t) : Timeline({}));
    }
    if (const ResourceHistory* h = timeline->find(type, name.substr(type.size() + 1)))
      party = &h->current().resource;
  }
  if (!party)
    return err(unprocessable(what + " resolves to nothing known: Patient/" + patient_id(user) +
                             " has no such resource here" +
                             (bundle.empty() ? "" : ", nor has the Bundle")));
  std::vector<Grantee> found;
  for (const ConsentActor& id : actor_identifiers(*party))
    if (auto g = backend_.grantee(id.system, id.value);
        g &&
        std::none_of(found.begin(), found.end(), [&](const Grantee& f) { return f.key == g->key; }))
      found.push_back(*g);
  if (found.size() != 1)
    return err(unprocessable(what +
                             (found.empty()
                                  ? " carries no identifier naming a party of this chain"
                                  : " carries identifiers naming " + std::to_string(found.size()) +
                                        " different parties of this chain") +
                             ": its identifiers of system " + std::string(kApiKeyActorSystem) +
                             " (an API key's name) and " + std::string(kNodeActorSystem) +
                             " (a record node's name) must name exactly one party"));
  return found[0];
}

Result<std::vector<PatientStatement>, FhirError> FhirService::consent_acts(
    const Identity& who, const UserId& user, Json& consent, const Json* superseded,
    const std::string& base_url, const BundleResources& bundle) {
  set_consent_grants(consent, {});  // notes are the server's, never the client's
  auto plan = consent_plan(consent);
  if (!plan) return err(plan.error());

  std::vector<Grantee> grantees;
  std::optional<Timeline> timeline;
  for (const ConsentActor& a : plan->actors) {
    auto g = consent_grantee(who, user, a, base_url, bundle, timeline);
    if (!g) return err(g.error());
    grantees.push_back(*g);
  }

  std::vector<std::pair<PatientAct, std::optional<X25519Public>>> acts;
  std::vector<Hash> revoked;
  if (superseded)
    for (const ConsentGrantNote& n : consent_grants(*superseded)) revoked.push_back(n.grant);
  if (plan->effect == ConsentEffect::kRevoke) {
    auto t = load(who, user);
    if (!t) return err(t.error());
    for (const ConsentGrantNote& n : grants_in_timeline(*t))
      if (std::any_of(grantees.begin(), grantees.end(),
                      [&](const Grantee& g) { return g.key == n.grantee; }))
        revoked.push_back(n.grant);
  }
  std::sort(revoked.begin(), revoked.end());
  revoked.erase(std::unique(revoked.begin(), revoked.end()), revoked.end());
  for (const Hash& id : revoked) acts.push_back({ConsentRevocation{id}, std::nullopt});
  if (plan->effect == ConsentEffect::kGrant)
    for (const Grantee& g : grantees)
      acts.push_back({ConsentGrant{g.key, plan->scope, plan->purpose, plan->not_before_us,
                                   plan->expires_us, std::nullopt},
                      g.box_key});

  std::vector<PatientStatement> out;
  std::vector<ConsentGrantNote> notes;
  for (auto& [act, seal_for] : acts) {
    auto st = backend_.sign_as_patient(user, std::move(act), seal_for);
    if (!st)
      return err(forbidden(
          "Consent: the key of Patient/" + patient_id(user) +
          " is not in this gateway's custody, so the gateway cannot sign the patient's consent: "
          "the patient signs it with their own key (mhr grant / mhr revoke)"));
    if (const auto* g = std::get_if<ConsentGrant>(&st->act))
      notes.push_back({statement_id(*st), g->grantee});
    out.push_back(std::move(*st));
  }
  set_consent_grants(consent, notes);
  return out;
}

std::optional<FhirError> FhirService::send_consent_acts(const Identity& who,
                                                        std::span<const PatientStatement> acts,
                                                        bool grants, const std::string& note) {
  std::vector<PatientStatement> chosen;
  for (const PatientStatement& st : acts)
    if (std::holds_alternative<ConsentGrant>(st.act) == grants) chosen.push_back(st);
  if (chosen.empty()) return std::nullopt;
  std::vector<BackendReply> replies = backend_.send_acts(who, chosen);
  MHR_ASSERT(replies.size() == chosen.size());
  for (const BackendReply& r : replies)
    if (r.status != BackendStatus::kOk) {
      FhirError e = backend_error(r.status, r.detail, "sending the patient's consent");
      e.diagnostics += note;
      return e;
    }
  return std::nullopt;
}

}  // namespace mhr::fhir
