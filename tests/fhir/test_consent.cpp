// Consent resources -> grants and revocations: the pure mapping, and the
// acts the service signs and sends for them (against the in-memory
// backend; the node enforcing them is tested in test_process.cpp).
#include <doctest/doctest.h>

#include "edge_node/fhir/consent_mapping.hpp"
#include "edge_node/fhir/ids.hpp"
#include "tests/fhir/service_fixture.hpp"

using namespace mhr;
using namespace mhr::fhir;
using namespace mhr::fhir::test;

namespace {

Json actor(std::string_view system, const std::string& value) {
  return {{"reference", {{"identifier", {{"system", system}, {"value", value}}}}}};
}

Json consent(const std::string& patient, Json provision, const std::string& status = "active") {
  return {{"resourceType", "Consent"},
          {"status", status},
          {"scope", {{"coding", Json::array({{{"code", "patient-privacy"}}})}}},
          {"category", Json::array({{{"coding", Json::array({{{"code", "INFA"}}})}}})},
          {"patient", {{"reference", "Patient/" + patient}}},
          {"provision", std::move(provision)}};
}

Json permit_to(const std::string& name) {
  return {{"type", "permit"}, {"actor", Json::array({actor(kApiKeyActorSystem, name)})}};
}

std::uint8_t bit(Category c) {
  return static_cast<std::uint8_t>(1u << static_cast<unsigned>(c));
}

}  // namespace

TEST_CASE("consent_plan: an active permit grants each actor, scoped and timed as written") {
  Json provision = {
      {"type", "permit"},
      {"period", {{"start", "2024-01-01"}, {"end", "2024-12-31"}}},
      {"actor",
       Json::array({actor(kApiKeyActorSystem, "dr-outside"), actor(kNodeActorSystem, "net1.r0")})},
      {"purpose", Json::array({{{"system", "http://terminology.hl7.org/CodeSystem/v3-ActReason"},
                                {"code", "TREAT"}}})},
      {"class", Json::array({{{"system", kCategorySystem}, {"code", "medical"}},
                             {{"system", kResourceTypeSystem}, {"code", "Observation"}}})},
      {"securityLabel", Json::array({{{"system", kCategorySystem}, {"code", "billing"}}})}};
  auto plan = consent_plan(consent("p", provision));
  REQUIRE(plan);
  CHECK(plan->effect == ConsentEffect::kGrant);
  CHECK(plan->actors ==
        std::vector<ConsentActor>{{std::string(kApiKeyActorSystem), "dr-outside", ""},
                                  {std::string(kNodeActorSystem), "net1.r0", ""}});
  CHECK(plan->scope.categories == (bit(Category::kMedical) | bit(Category::kBilling)));
  CHECK(plan->scope.content_types == std::vector<std::string>{"Observation"});
  CHECK(plan->purpose == "TREAT");
  CHECK(plan->not_before_us == 1'704'067'200'000'000);  // 2024-01-01T00:00Z
  CHECK(plan->expires_us == 1'735'689'600'000'000);     // the end of 2024-12-31
}

TEST_CASE("consent_plan: defaults, statuses that only store, and deny") {
  auto open = consent_plan(consent("p", {{"actor", Json::array({actor(kNodeActorSystem, "n")})}}));
  REQUIRE(open);
  CHECK(open->effect == ConsentEffect::kGrant);  // no type: permit
  CHECK(open->scope == ConsentScope::all());
  CHECK(open->not_before_us == 0);
  CHECK(open->expires_us > 250'000'000'000'000'000);

  for (const char* s : {"draft", "proposed", "inactive", "rejected", "entered-in-error"}) {
    auto p = consent_plan(consent("p", Json::object(), s));
    REQUIRE(p);
    CHECK(p->effect == ConsentEffect::kNone);
  }
  Json deny = permit_to("dr-outside");
  deny["type"] = "deny";
  auto d = consent_plan(consent("p", deny));
  REQUIRE(d);
  CHECK(d->effect == ConsentEffect::kRevoke);
  CHECK(d->actors.size() == 1);

  // Types alone cover those types in any category.
  Json typed = permit_to("x");
  typed["class"] = Json::array({{{"system", kResourceTypeSystem}, {"code", "Claim"}}});
  auto t = consent_plan(consent("p", typed));
  REQUIRE(t);
  CHECK(t->scope.categories == ConsentScope::all().categories);
  CHECK(t->scope.content_types == std::vector<std::string>{"Claim"});
}

TEST_CASE("consent_plan: what cannot be enforced as written is refused with 422") {
  auto refused = [](Json provision, const std::string& status = "active") {
    auto p = consent_plan(consent("p", std::move(provision), status));
    REQUIRE_FALSE(p);
    CHECK(p.error().status == 422);
    return p.error().diagnostics;
  };
  CHECK(refused(Json::object()).find("names nobody") != std::string::npos);
  CHECK(refused({{"actor", Json::array({{{"reference", {{"display", "Dr. Who"}}}}})}})
            .find("names no party") != std::string::npos);
  CHECK(refused({{"actor", Json::array({{{"reference",
                                          {{"identifier",
                                            {{"system", "http://hl7.org/fhir/sid/us-npi"},
                                             {"value", "1234"}}}}}}})}})
            .find("names no party") != std::string::npos);
  Json p = permit_to("x");
  p["class"] = Json::array({{{"system", "http://loinc.org"}, {"code", "1-8"}}});
  CHECK(refused(p).find("cannot be enforced") != std::string::npos);
  p = permit_to("x");
  p["class"] = Json::array({{{"system", kCategorySystem}, {"code", "secret"}}});
  CHECK(refused(p).find("unknown category") != std::string::npos);
  p = permit_to("x");
  p["class"] = Json::array({{{"system", kResourceTypeSystem}, {"code", "Spaceship"}}});
  CHECK(refused(p).find("not a type stored here") != std::string::npos);
  p = permit_to("x");
  p["provision"] = Json::array({permit_to("y")});
  CHECK(refused(p).find("provision.provision") != std::string::npos);
  p = permit_to("x");
  p["period"] = {{"start", "2024-02-01"}, {"end", "2024-01-01"}};
  CHECK(refused(p).find("ends before") != std::string::npos);
  p = permit_to("x");
  p["action"] = Json::array({{{"coding", Json::array({{{"code", "collect"}}})}}});
  CHECK(refused(p).find("neither access nor use") != std::string::npos);
  p = permit_to("x");
  p["type"] = "deny";
  p["class"] = Json::array({{{"system", kCategorySystem}, {"code", "billing"}}});
  CHECK(refused(p).find("whole") != std::string::npos);
  CHECK(refused(Json::object(), "approved").find("not an R4 Consent status") != std::string::npos);
  Json unknown_scope = consent("p", permit_to("x"));
  unknown_scope["scope"] = {
      {"coding", Json::array({{{"system", kConsentScopeSystem}, {"code", "marketing"}}})}};
  auto u = consent_plan(unknown_scope);
  REQUIRE_FALSE(u);
  CHECK(u.error().status == 422);
  CHECK(u.error().diagnostics.find("scope") != std::string::npos);
}

TEST_CASE(
    "consent_plan: an actor named by a literal reference is kept for the service to resolve") {
  Json provision = {
      {"actor", Json::array({{{"reference", {{"reference", "Practitioner/dr-1"}}}},
                             {{"reference",
                               {{"reference", "urn:uuid:4f8a"},
                                {"identifier", {{"system", "http://x"}, {"value", "y"}}}}}}})}};
  auto plan = consent_plan(consent("p", provision));
  REQUIRE(plan);
  CHECK(plan->actors ==
        std::vector<ConsentActor>{{"", "", "Practitioner/dr-1"}, {"", "", "urn:uuid:4f8a"}});
  // An identifier of this chain wins over the reference next to it.
  provision["actor"][0]["reference"]["identifier"] = {{"system", kApiKeyActorSystem},
                                                      {"value", "dr-outside"}};
  plan = consent_plan(consent("p", provision));
  REQUIRE(plan);
  CHECK(plan->actors[0] == ConsentActor{std::string(kApiKeyActorSystem), "dr-outside", ""});
}

TEST_CASE(
    "consent_plan: only patient-privacy Consents grant; treatment, research, adr are stored") {
  for (const char* kind : {"treatment", "research", "adr"}) {
    Json c = consent("p", Json::object());  // no actor: would be refused as a grant
    c["scope"] = {{"coding", Json::array({{{"system", kConsentScopeSystem}, {"code", kind}}})}};
    auto plan = consent_plan(c);
    REQUIRE_MESSAGE(plan, kind);
    CHECK(plan->effect == ConsentEffect::kNone);
  }
  Json privacy = consent("p", permit_to("x"));
  privacy["scope"] = {
      {"coding", Json::array({{{"system", "http://other"}, {"code", "treatment"}},
                              {{"system", kConsentScopeSystem}, {"code", "patient-privacy"}}})}};
  auto plan = consent_plan(privacy);
  REQUIRE(plan);
  CHECK(plan->effect == ConsentEffect::kGrant);
  privacy.erase("scope");  // none: taken as privacy, the safe reading for a grant's refusals
  plan = consent_plan(privacy);
  REQUIRE(plan);
  CHECK(plan->effect == ConsentEffect::kGrant);
}

TEST_CASE("actor_identifiers: the identities of this chain a party resource names") {
  const Json practitioner = {
      {"resourceType", "Practitioner"},
      {"identifier", Json::array({{{"system", "http://hl7.org/fhir/sid/us-npi"}, {"value", "99"}},
                                  {{"system", kApiKeyActorSystem}, {"value", "dr-outside"}},
                                  {{"system", kNodeActorSystem}, {"value", "net1.r0"}},
                                  {{"system", kApiKeyActorSystem}, {"value", "dr-outside"}},
                                  {{"system", kApiKeyActorSystem}, {"value", ""}},
                                  "not an identifier"})}};
  CHECK(actor_identifiers(practitioner) ==
        std::vector<ConsentActor>{{std::string(kApiKeyActorSystem), "dr-outside", ""},
                                  {std::string(kNodeActorSystem), "net1.r0", ""}});
  CHECK(actor_identifiers(Json{{"resourceType", "Organization"}}).empty());
  CHECK(names_a_party("Organization"));
  CHECK(names_a_party("PractitionerRole"));
  CHECK_FALSE(names_a_party("Observation"));
  CHECK_FALSE(names_a_party("Patient"));
}

TEST_CASE("grant notes in a Consent's meta: set, replaced, read back") {
  Json c = consent("p", permit_to("x"));
  c["meta"] = {{"extension", Json::array({{{"url", "other"}}})}};
  const ConsentGrantNote a{sha256(as_bytes("a")), MemoryBackend::key_of("A")};
  const ConsentGrantNote b{sha256(as_bytes("b")), MemoryBackend::key_of("B")};
  set_consent_grants(c, {a, b});
  CHECK(consent_grants(c) == std::vector<ConsentGrantNote>{a, b});
  set_consent_grants(c, {b});
  CHECK(consent_grants(c) == std::vector<ConsentGrantNote>{b});
  set_consent_grants(c, {});
  CHECK(consent_grants(c).empty());
  CHECK(c["meta"]["extension"] == Json::array({{{"url", "other"}}}));
}

TEST_CASE("service: a Consent is stored and its grants signed for the patient in custody") {
  ServiceFixture f;
  const std::string p = f.new_patient();
  Json c = consent(p, permit_to("dr-outside"));
  // A note sent by the client is not taken as the server's.
  set_consent_grants(c, {{sha256(as_bytes("forged")), MemoryBackend::key_of("x")}});
  FhirResponse r = f.send("POST", "Consent", c);
  REQUIRE_MESSAGE(r.status == 201, r.body.dump());
  REQUIRE(f.backend.acts.size() == 1);
  const auto& g = std::get<ConsentGrant>(f.backend.acts[0].act);
  CHECK(g.grantee == MemoryBackend::key_of("identity:dr-outside"));
  CHECK(g.scope == ConsentScope::all());
  REQUIRE(g.key);  // the data key, sealed for the grantee's box key
  CHECK(g.key->recipient == X25519Public{MemoryBackend::key_of("box:dr-outside")});
  const std::vector<ConsentGrantNote> notes = consent_grants(r.body);
  CHECK(notes == std::vector<ConsentGrantNote>{{statement_id(f.backend.acts[0]), g.grantee}});
  const std::string id = r.body["id"];
  CHECK(consent_grants(f.send("GET", "Consent/" + id).body) == notes);

  // Set inactive: the grant is revoked, and the version names no grant.
  Json inactive = f.send("GET", "Consent/" + id).body;
  inactive["status"] = "inactive";
  r = f.send("PUT", "Consent/" + id, inactive);
  REQUIRE_MESSAGE(r.status == 200, r.body.dump());
  REQUIRE(f.backend.acts.size() == 2);
  CHECK(std::get<ConsentRevocation>(f.backend.acts[1].act).grant == notes[0].grant);
  CHECK(consent_grants(r.body).empty());
  // Storing it again revokes nothing more.
  CHECK(f.send("PUT", "Consent/" + id, r.body).status == 200);
  CHECK(f.backend.acts.size() == 2);
}

TEST_CASE("service: a PUT replaces the grants; a deny revokes the actor's other grants") {
  ServiceFixture f;
  const std::string p = f.new_patient();
  FhirResponse first = f.send("POST", "Consent", consent(p, permit_to("dr-outside")));
  FhirResponse second = f.send("POST", "Consent", consent(p, permit_to("dr-test")));
  REQUIRE(first.status == 201);
  REQUIRE(second.status == 201);
  // An internal identity is the institution itself.
  CHECK(consent_grants(second.body)[0].grantee == MemoryBackend::key_of("identity:institution"));

  Json narrower = first.body;
  narrower["provision"]["class"] =
      Json::array({{{"system", kCategorySystem}, {"code", "medical"}}});
  FhirResponse put = f.send("PUT", "Consent/" + first.body["id"].get<std::string>(), narrower);
  REQUIRE(put.status == 200);
  REQUIRE(f.backend.acts.size() == 4);
  CHECK(std::get<ConsentRevocation>(f.backend.acts[2].act).grant ==
        consent_grants(first.body)[0].grant);
  CHECK(std::get<ConsentGrant>(f.backend.acts[3].act).scope.categories == bit(Category::kMedical));

  Json deny = consent(p, permit_to("dr-outside"));
  deny["provision"]["type"] = "deny";
  FhirResponse d = f.send("POST", "Consent", deny);
  REQUIRE_MESSAGE(d.status == 201, d.body.dump());
  REQUIRE(f.backend.acts.size() == 5);  // only dr-outside's current grant
  CHECK(std::get<ConsentRevocation>(f.backend.acts[4].act).grant ==
        consent_grants(put.body)[0].grant);
}

TEST_CASE("service: Consent refusals") {
  ServiceFixture f;
  const std::string p = f.new_patient();
  // Not in custody: the patient must sign.
  const std::string stranger = std::string(64, 'a');
  f.backend.registered.insert(*user_of_patient_id(stranger));
  FhirResponse r = f.send("POST", "Consent", consent(stranger, permit_to("dr-outside")));
  CHECK(r.status == 403);
  CHECK(r.body["issue"][0]["diagnostics"].get<std::string>().find("mhr grant") !=
        std::string::npos);
  // Unknown actor, no patient.
  r = f.send("POST", "Consent", consent(p, permit_to("nobody")));
  CHECK(r.status == 422);
  Json orphan = consent(p, permit_to("dr-outside"));
  orphan.erase("patient");
  CHECK(f.send("POST", "Consent", orphan).status == 422);
  // A revoking Consent inside a Bundle.
  Json deny = permit_to("dr-outside");
  deny["type"] = "deny";
  Json bundle = {{"resourceType", "Bundle"},
                 {"type", "transaction"},
                 {"entry", Json::array({{{"resource", consent(p, deny)},
                                         {"request", {{"method", "POST"}, {"url", "Consent"}}}}})}};
  r = f.send("POST", "", bundle);
  CHECK(r.status == 422);
  CHECK(r.body["issue"][0]["diagnostics"].get<std::string>().find("on its own") !=
        std::string::npos);
  // An external identity writes nothing.
  f.who = {"dr-outside", "clinician", true};
  CHECK(f.send("POST", "Consent", consent(p, permit_to("dr-outside"))).status == 403);
  CHECK(f.backend.acts.empty());
  CHECK(f.backend.chains[*user_of_patient_id(p)].size() == 1);  // the Patient only
}

namespace {

Json party(const std::string& type, const std::string& system, const std::string& value) {
  return {{"resourceType", type},
          {"identifier", Json::array({{{"system", system}, {"value", value}}})}};
}

Json actor_ref(const std::string& reference) {
  return {{"actor", Json::array({{{"reference", {{"reference", reference}}}}})}};
}

Json post_entry(const Json& resource, const std::string& full_url = "") {
  Json e = {{"resource", resource},
            {"request", {{"method", "POST"}, {"url", resource["resourceType"]}}}};
  if (!full_url.empty()) e["fullUrl"] = full_url;
  return e;
}

// A transaction Bundle of `entries`.
Json transaction(Json entries) {
  return {{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", std::move(entries)}};
}

}  // namespace

TEST_CASE(
    "service: a Consent actor referencing a Practitioner or Organization is granted as its "
    "identifier names") {
  ServiceFixture f;
  const std::string p = f.new_patient();
  // The Practitioner arrives in a patient Bundle; its id names the patient.
  FhirResponse b =
      f.send("POST", "",
             transaction(Json::array(
                 {post_entry(party("Practitioner", std::string(kApiKeyActorSystem), "dr-outside"),
                             "urn:uuid:pr-1"),
                  post_entry({{"resourceType", "Observation"},
                              {"status", "final"},
                              {"subject", {{"reference", "Patient/" + p}}},
                              {"performer", Json::array({{{"reference", "urn:uuid:pr-1"}}})}})})));
  REQUIRE_MESSAGE(b.status == 200, b.body.dump());
  const std::string pr = b.body["entry"][0]["response"]["location"].get<std::string>().substr(
      0, std::string("Practitioner/").size() + 64);

  FhirResponse r = f.send("POST", "Consent", consent(p, actor_ref(pr)));
  REQUIRE_MESSAGE(r.status == 201, r.body.dump());
  REQUIRE(f.backend.acts.size() == 1);
  CHECK(std::get<ConsentGrant>(f.backend.acts[0].act).grantee ==
        MemoryBackend::key_of("identity:dr-outside"));
  // The stored Consent keeps the reference as written.
  CHECK(r.body["provision"]["actor"][0]["reference"]["reference"] == pr);
  // An absolute reference on this server's base names it too; a deny revokes.
  Json deny = actor_ref("http://fhir.test/fhir/" + pr);
  deny["type"] = "deny";
  r = f.send("POST", "Consent", consent(p, deny));
  REQUIRE_MESSAGE(r.status == 201, r.body.dump());
  REQUIRE(f.backend.acts.size() == 2);
  CHECK(std::get<ConsentRevocation>(f.backend.acts[1].act).grant ==
        statement_id(f.backend.acts[0]));

  // In a Bundle: an Organization of the same Bundle, by its urn:uuid, names a node.
  const std::string q = f.new_patient();
  r = f.send("POST", "",
             transaction(Json::array(
                 {post_entry(consent(q, actor_ref("urn:uuid:org-1"))),
                  post_entry(party("Organization", std::string(kNodeActorSystem), "net1.r0"),
                             "urn:uuid:org-1")})));
  REQUIRE_MESSAGE(r.status == 200, r.body.dump());
  CHECK(r.body["entry"][0]["response"]["status"] == "201 Created");
  REQUIRE(f.backend.acts.size() == 3);
  CHECK(std::get<ConsentGrant>(f.backend.acts[2].act).grantee ==
        MemoryBackend::key_of("node:net1.r0"));
  // The stored Consent names its grant, and its reference now the Organization's id.
  const std::string cid = r.body["entry"][0]["response"]["location"].get<std::string>().substr(
      std::string("Consent/").size(), 64);
  FhirResponse stored = f.send("GET", "Consent/" + cid);
  REQUIRE(stored.status == 200);
  CHECK(consent_grants(stored.body).size() == 1);
  CHECK(
      stored.body["provision"]["actor"][0]["reference"]["reference"].get<std::string>().starts_with(
          "Organization/"));
}

TEST_CASE("service: a Consent actor reference that resolves to no known party is refused 422") {
  ServiceFixture f;
  const std::string p = f.new_patient();
  FhirResponse b = f.send(
      "POST", "",
      transaction(Json::array(
          {post_entry(party("Practitioner", "http://hl7.org/fhir/sid/us-npi", "123"),
                      "urn:uuid:npi-only"),
           post_entry({{"resourceType", "Practitioner"},
                       {"identifier",
                        Json::array({{{"system", kApiKeyActorSystem}, {"value", "dr-outside"}},
                                     {{"system", kApiKeyActorSystem}, {"value", "dr-test"}}})}},
                      "urn:uuid:two"),
           post_entry({{"resourceType", "Observation"},
                       {"status", "final"},
                       {"subject", {{"reference", "Patient/" + p}}}})})));
  REQUIRE_MESSAGE(b.status == 200, b.body.dump());
  auto id_at = [&](int i) {
    const std::string loc = b.body["entry"][i]["response"]["location"];
    return loc.substr(0, loc.find("/_history"));
  };
  auto refused = [&](const std::string& reference) {
    FhirResponse r = f.send("POST", "Consent", consent(p, actor_ref(reference)));
    CHECK_MESSAGE(r.status == 422, reference);
    CHECK(r.body["resourceType"] == "OperationOutcome");
    return r.body["issue"][0]["diagnostics"].get<std::string>();
  };
  CHECK(refused("Practitioner/123").find("resolves to nothing known") != std::string::npos);
  CHECK(refused("urn:uuid:npi-only").find("not a reference to a resource of this server") !=
        std::string::npos);
  CHECK(refused("http://elsewhere.example/fhir/" + id_at(0)).find("not a reference") !=
        std::string::npos);
  CHECK(refused(id_at(0)).find("no identifier naming a party") != std::string::npos);
  CHECK(refused(id_at(1)).find("2 different parties") != std::string::npos);
  CHECK(refused(id_at(2)).find("refers to type Observation") != std::string::npos);
  // A Practitioner of another patient is not looked up on that patient's timeline.
  const std::string q = f.new_patient();
  FhirResponse other = f.send("POST", "Consent", consent(q, actor_ref(id_at(1))));
  CHECK(other.status == 422);
  CHECK(f.backend.acts.empty());
  // In a transaction, the refusal names the entry and nothing is written.
  const std::size_t before = f.backend.chains[*user_of_patient_id(p)].size();
  FhirResponse t =
      f.send("POST", "",
             transaction(Json::array({post_entry({{"resourceType", "Observation"},
                                                  {"status", "final"},
                                                  {"subject", {{"reference", "Patient/" + p}}}}),
                                      post_entry(consent(p, actor_ref("urn:uuid:missing")))})));
  CHECK(t.status == 422);
  CHECK(t.body["issue"][0]["expression"][0] == "Bundle.entry[1]");
  CHECK(f.backend.chains[*user_of_patient_id(p)].size() == before);
  CHECK(f.backend.acts.empty());
}
