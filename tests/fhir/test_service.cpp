// The single-resource interactions against an in-memory backend.
#include <doctest/doctest.h>

#include "edge_node/fhir/ids.hpp"
#include "tests/fhir/sample_bundle.hpp"
#include "tests/fhir/service_fixture.hpp"

using namespace mhr;
using namespace mhr::fhir;
using namespace mhr::fhir::test;

namespace {

Json observation(const std::string& patient, const char* date, double value) {
  return {{"resourceType", "Observation"},
          {"status", "final"},
          {"code", coding("http://loinc.org", "29463-7", "Body Weight")},
          {"subject", {{"reference", "Patient/" + patient}}},
          {"effectiveDateTime", date},
          {"valueQuantity", {{"value", value}, {"unit", "kg"}}}};
}

std::string issue(const FhirResponse& r) {
  return r.body["issue"][0].value("diagnostics", "");
}

}  // namespace

TEST_CASE("create then read gives the same resource back, with chain meta") {
  ServiceFixture f;
  const std::string p = f.new_patient();
  CHECK(user_of_patient_id(p));
  Json sent = observation(p, "2020-05-01T10:00:00+02:00", 71.25);
  FhirResponse created = f.send("POST", "Observation", sent);
  REQUIRE(created.status == 201);
  const std::string id = created.body["id"];
  CHECK(user_of_resource_id(id) == user_of_patient_id(p));
  CHECK(created.location == "http://fhir.test/fhir/Observation/" + id + "/_history/0.1");
  CHECK(created.etag == "W/\"0.1\"");

  FhirResponse read = f.send("GET", "Observation/" + id);
  REQUIRE(read.status == 200);
  CHECK(same_json(without_server_fields(read.body), sent));
  CHECK(read.body["meta"]["versionId"] == "0.1");
  CHECK(read.body["meta"]["extension"][0]["extension"][2]["valueString"] ==
        f.backend.chains.begin()->second[1].hash.hex());
  CHECK(f.backend.chains.begin()->second[1].category == Category::kMedical);

  FhirResponse patient = f.send("GET", "Patient/" + p);
  REQUIRE(patient.status == 200);
  CHECK(patient.body["gender"] == "other");
  CHECK(f.backend.chains.begin()->second[0].category == Category::kAdministrative);
}

TEST_CASE("a claim is a billing record") {
  ServiceFixture f;
  const std::string p = f.new_patient();
  Json claim = {{"resourceType", "Claim"},
                {"status", "active"},
                {"patient", {{"reference", "Patient/" + p}}}};
  REQUIRE(f.send("POST", "Claim", claim).status == 201);
  CHECK(f.backend.chains.begin()->second.back().category == Category::kBilling);
}

TEST_CASE("errors are OperationOutcomes with the right status") {
  ServiceFixture f;
  const std::string p = f.new_patient();
  FhirResponse r = f.send("POST", "Observation", std::string("{\"resourceType\":"));
  CHECK(r.status == 400);
  CHECK(r.body["resourceType"] == "OperationOutcome");
  CHECK(issue(r).find("malformed JSON") != std::string::npos);

  CHECK(f.send("POST", "Spaceship", Json{{"resourceType", "Spaceship"}}).status == 404);
  CHECK(f.send("GET", "Spaceship/1").status == 404);
  CHECK(f.send("POST", "Observation", Json{{"resourceType", "Condition"}}).status == 400);

  Json orphan = observation(p, "2020", 1);
  orphan.erase("subject");
  r = f.send("POST", "Observation", orphan);
  CHECK(r.status == 422);
  CHECK(issue(r).find("subject") != std::string::npos);

  UserId stranger{sha256(as_bytes("stranger"))};
  r = f.send("POST", "Observation", observation(stranger.hex(), "2020", 1));
  CHECK(r.status == 422);
  CHECK(issue(r).find("not registered") != std::string::npos);

  r = f.send("POST", "Organization", Json{{"resourceType", "Organization"}});
  CHECK(r.status == 422);

  CHECK(f.send("GET", "Observation/nope").status == 404);
  CHECK(f.send("GET", "Patient/" + stranger.hex()).status == 404);
  CHECK(f.send("GET", "Observation/" + new_resource_id(stranger, 1)).status == 404);
  CHECK(f.send("GET", "Observation/a_b").status == 400);
  CHECK(f.send("PATCH", "Observation").status == 405);
}

TEST_CASE("PUT adds a version that supersedes; history lists every version") {
  ServiceFixture f;
  const std::string p = f.new_patient();
  FhirResponse created = f.send("POST", "Observation", observation(p, "2020-01-01", 70));
  const std::string id = created.body["id"];
  Json v2 = observation(p, "2020-01-01", 71);
  v2["id"] = id;
  FhirResponse updated = f.send("PUT", "Observation/" + id, v2);
  REQUIRE(updated.status == 200);
  CHECK(updated.body["meta"]["versionId"] == "0.2");
  const auto& chain = f.backend.chains.begin()->second;
  CHECK(chain[2].supersedes == chain[1].hash);

  FhirResponse read = f.send("GET", "Observation/" + id);
  CHECK(read.body["valueQuantity"]["value"] == 71);
  FhirResponse old = f.send("GET", "Observation/" + id + "/_history/0.1");
  REQUIRE(old.status == 200);
  CHECK(old.body["valueQuantity"]["value"] == 70);
  CHECK(f.send("GET", "Observation/" + id + "/_history/0.9").status == 404);
  CHECK(f.send("GET", "Observation/" + id + "/_history/x").status == 404);

  FhirResponse h = f.send("GET", "Observation/" + id + "/_history");
  REQUIRE(h.status == 200);
  CHECK(h.body["type"] == "history");
  CHECK(h.body["total"] == 2);
  CHECK(h.body["entry"][0]["resource"]["meta"]["versionId"] == "0.2");
  CHECK(h.body["entry"][0]["request"]["method"] == "PUT");
  CHECK(h.body["entry"][1]["resource"]["meta"]["versionId"] == "0.1");
  CHECK(h.body["entry"][1]["request"]["method"] == "POST");

  // If-Match guards against lost updates.
  v2["status"] = "amended";
  CHECK(f.send("PUT", "Observation/" + id, v2.dump(), "W/\"0.1\"").status == 412);
  CHECK(f.send("PUT", "Observation/" + id, v2.dump(), "W/\"0.2\"").status == 200);

  // A resource stays with its patient; ids must agree.
  const std::string q = f.new_patient();
  Json moved = observation(q, "2020", 1);
  moved["id"] = id;
  CHECK(f.send("PUT", "Observation/" + id, moved).status == 422);
  Json other_id = v2;
  other_id["id"] = "something-else";
  CHECK(f.send("PUT", "Observation/" + id, other_id).status == 400);
  CHECK(
      f.send("PUT", "Observation/made-up", Json{{"resourceType", "Observation"}, {"id", "made-up"}})
          .status == 400);
}

TEST_CASE("PUT of a Patient with a chosen UserId registers it") {
  ServiceFixture f;
  UserId u{sha256(as_bytes("key of the patient"))};
  Json p = {{"resourceType", "Patient"}, {"id", u.hex()}, {"gender", "female"}};
  FhirResponse r = f.send("PUT", "Patient/" + u.hex(), p);
  REQUIRE(r.status == 201);
  CHECK(f.backend.registered.contains(u));
  p["gender"] = "male";
  CHECK(f.send("PUT", "Patient/" + u.hex(), p).status == 200);
  CHECK(f.send("GET", "Patient/" + u.hex()).body["gender"] == "male");
}

TEST_CASE("DELETE is refused: the history is permanent") {
  ServiceFixture f;
  const std::string p = f.new_patient();
  FhirResponse r = f.send("DELETE", "Patient/" + p);
  CHECK(r.status == 405);
  CHECK(r.allow == "GET, PUT");
  CHECK(issue(r).find("permanent") != std::string::npos);
  CHECK(f.send("GET", "Patient/" + p).status == 200);
}

TEST_CASE("search by patient, type and date ranges, paged by _count") {
  ServiceFixture f;
  const std::string p = f.new_patient();
  const std::string other = f.new_patient();
  for (int m = 1; m <= 12; ++m) {
    const std::string date = std::string("2020-") + (m < 10 ? "0" : "") + std::to_string(m) + "-15";
    REQUIRE(f.send("POST", "Observation", observation(p, date.c_str(), m)).status == 201);
  }
  REQUIRE(f.send("POST", "Observation", observation(other, "2020-06-15", 0)).status == 201);
  REQUIRE(f.send("POST", "Condition",
                 Json{{"resourceType", "Condition"},
                      {"subject", {{"reference", "Patient/" + p}}},
                      {"onsetDateTime", "2020-06-01"}})
              .status == 201);

  FhirResponse all = f.send("GET", "Observation?patient=" + p);
  REQUIRE(all.status == 200);
  CHECK(all.body["type"] == "searchset");
  CHECK(all.body["total"] == 12);

  FhirResponse range =
      f.send("GET", "Observation?patient=Patient/" + p + "&date=ge2020-03-01&date=lt2020-07");
  CHECK(range.body["total"] == 4);  // March to June
  CHECK(range.body["entry"][0]["resource"]["valueQuantity"]["value"] == 3);

  FhirResponse page = f.send("GET", "Observation?subject=Patient/" + p + "&_count=5");
  CHECK(page.body["total"] == 12);
  CHECK(page.body["entry"].size() == 5);
  std::string next;
  for (const Json& l : page.body["link"])
    if (l["relation"] == "next") next = l["url"];
  REQUIRE(next.find("_offset=5") != std::string::npos);
  FhirResponse page3 = f.send("GET", "Observation?patient=" + p + "&_count=5&_offset=10");
  CHECK(page3.body["entry"].size() == 2);
  CHECK(f.send("GET", "Observation?patient=" + p + "&_count=0").body["total"] == 12);

  CHECK(f.send("GET", "Condition?patient=" + p + "&date=2020-06").body["total"] == 1);
  CHECK(f.send("GET", "Patient?_id=" + p).body["total"] == 1);

  CHECK(f.send("GET", "Observation").status == 400);  // no patient
  CHECK(f.send("GET", "Observation?patient=" + p + "&code=x").status == 400);
  CHECK(f.send("GET", "Observation?patient=" + p + "&date=xx2020").status == 400);
  CHECK(f.send("GET", "Observation?patient=" + p + "&_count=100000").status == 400);
  UserId stranger{sha256(as_bytes("nobody"))};
  CHECK(f.send("GET", "Observation?patient=" + stranger.hex()).body["total"] == 0);
}

TEST_CASE("$everything: the patient first, then every current resource") {
  ServiceFixture f;
  const std::string p = f.new_patient();
  for (int i = 0; i < 3; ++i)
    REQUIRE(f.send("POST", "Observation", observation(p, "2021", i)).status == 201);
  FhirResponse e = f.send("GET", "Patient/" + p + "/$everything");
  REQUIRE(e.status == 200);
  CHECK(e.body["total"] == 4);
  CHECK(e.body["entry"][0]["resource"]["resourceType"] == "Patient");
  CHECK(f.send("GET", "Patient/" + p + "/$everything?_type=Observation").body["total"] == 3);
  CHECK(f.send("GET", "Patient/" + p + "/$everything?start=2022").body["total"] == 1);
  CHECK(f.send("GET", "Patient/" + p + "/$everything?bogus=1").status == 400);
  CHECK(f.send("GET", "Observation/x/$everything").status == 404);
}

TEST_CASE("metadata is a CapabilityStatement listing the stored types") {
  ServiceFixture f;
  FhirResponse m = f.send("GET", "metadata");
  REQUIRE(m.status == 200);
  CHECK(m.body["resourceType"] == "CapabilityStatement");
  CHECK(m.body["fhirVersion"] == "4.0.1");
  bool observation_search = false;
  for (const Json& r : m.body["rest"][0]["resource"])
    if (r["type"] == "Observation")
      for (const Json& p : r["searchParam"]) observation_search |= p["name"] == "date";
  CHECK(observation_search);
}

TEST_CASE("every stored type lands on its patient's timeline and reads back equal") {
  ServiceFixture f;
  const std::string p = f.new_patient();
  std::size_t stored = 0;
  for (const ResourceType& t : resource_types()) {
    if (t.name == "Patient" || t.shared) continue;
    INFO(t.name);
    Json r = {
        {"resourceType", t.name},
        {std::string(t.patient_elements[0]), {{"reference", "Patient/" + p}}},
        {"text", {{"status", "generated"}, {"div", "<div>" + std::string(t.name) + "</div>"}}}};
    if (t.name == "Consent") r["status"] = "draft";  // required; a draft grants nothing
    FhirResponse w = f.send("POST", std::string(t.name), r);
    REQUIRE_MESSAGE(w.status == 201, w.body.dump());
    FhirResponse g = f.send("GET", std::string(t.name) + "/" + w.body["id"].get<std::string>());
    REQUIRE(g.status == 200);
    r["id"] = w.body["id"];
    CHECK(same_json(without_server_fields(g.body), without_server_fields(r)));
    CHECK(f.backend.chains.at(*user_of_patient_id(p)).back().category == t.category);
    ++stored;
  }
  FhirResponse all = f.send("GET", "Patient/" + p + "/$everything?_count=0");
  CHECK(all.body["total"] == stored + 1);
}
