// Transaction and batch Bundles: urn:uuid references, shared resources,
// all-or-nothing transactions, per-entry batch statuses, limits.
#include <doctest/doctest.h>

#include "edge_node/fhir/ids.hpp"
#include "tests/fhir/sample_bundle.hpp"
#include "tests/fhir/service_fixture.hpp"

using namespace mhr;
using namespace mhr::fhir;
using namespace mhr::fhir::test;

namespace {

// Every resource of $everything, by "Type/id", following next links.
std::map<std::string, Json> everything(ServiceFixture& f, const std::string& patient) {
  std::map<std::string, Json> out;
  for (std::size_t offset = 0;; offset += 100) {
    FhirResponse r = f.send(
        "GET", "Patient/" + patient + "/$everything?_count=100&_offset=" + std::to_string(offset));
    REQUIRE(r.status == 200);
    if (!r.body.contains("entry")) break;
    for (const Json& e : r.body["entry"])
      out[e["resource"]["resourceType"].get<std::string>() + "/" +
          e["resource"]["id"].get<std::string>()] = e["resource"];
  }
  return out;
}

}  // namespace

TEST_CASE("a transaction of a few hundred mixed resources imports and reads back equal") {
  ServiceFixture f;
  Json sent = patient_bundle(7, 30);  // 3 + 30 * 10 entries
  REQUIRE(sent["entry"].size() == 303);
  FhirResponse r = f.send("POST", "", sent);
  REQUIRE_MESSAGE(r.status == 200, r.body.dump());
  CHECK(r.body["type"] == "transaction-response");
  REQUIRE(r.body["entry"].size() == sent["entry"].size());
  for (const Json& e : r.body["entry"]) {
    CHECK(e["response"]["status"] == "201 Created");
    CHECK(e["response"]["location"].get<std::string>().find("/_history/0.") != std::string::npos);
  }
  CHECK(f.backend.registrations == 1);

  const std::string patient_location = r.body["entry"][0]["response"]["location"];
  const std::string patient = patient_location.substr(8, 64);
  auto expected = expected_resources(sent, r.body);
  auto got = everything(f, patient);
  CHECK(got.size() == expected.size());
  for (const auto& [name, want] : expected) {
    REQUIRE_MESSAGE(got.contains(name), name);
    CHECK_MESSAGE(same_json(without_server_fields(got[name]), want), name);
  }
  // References point at the new ids: the DiagnosticReport's results resolve.
  for (const auto& [name, res] : got)
    if (res["resourceType"] == "DiagnosticReport")
      for (const Json& ref : res["result"])
        CHECK(got.contains(ref["reference"].get<std::string>()));
  // Shared resources went to the patient's timeline; conditional references stay as sent.
  std::size_t orgs = 0;
  for (const auto& [name, res] : got) orgs += res["resourceType"] == "Organization";
  CHECK(orgs == 1);
  for (const auto& [name, res] : got)
    if (res["resourceType"] == "Encounter") {
      CHECK(
          res["location"][0]["location"]["reference"].get<std::string>().starts_with("Location?"));
      CHECK(res["subject"]["reference"] == "Patient/" + patient);
    }
}

TEST_CASE("a transaction with one bad entry writes nothing") {
  ServiceFixture f;
  Json sent = patient_bundle(8, 3);
  sent["entry"][5]["resource"]["subject"]["reference"] = "Patient/123";
  FhirResponse r = f.send("POST", "", sent);
  CHECK(r.status == 422);
  CHECK(r.body["resourceType"] == "OperationOutcome");
  CHECK(r.body["issue"][0]["diagnostics"].get<std::string>().starts_with("entry 5:"));
  CHECK(f.backend.submitted == 0);
  CHECK(f.backend.registrations == 0);
}

TEST_CASE("a batch reports each entry; the good ones are written") {
  ServiceFixture f;
  Json sent = patient_bundle(9, 2, "batch");
  sent["entry"][4]["resource"]["resourceType"] = "Spaceship";
  sent["entry"][4]["request"]["url"] = "Spaceship";
  sent["entry"].push_back({{"request", {{"method", "DELETE"}, {"url", "Patient/x"}}}});
  FhirResponse r = f.send("POST", "", sent);
  REQUIRE(r.status == 200);
  CHECK(r.body["type"] == "batch-response");
  const Json& out = r.body["entry"];
  CHECK(out[0]["response"]["status"] == "201 Created");
  CHECK(out[4]["response"]["status"] == "404 Not Found");
  CHECK(out[4]["response"]["outcome"]["resourceType"] == "OperationOutcome");
  CHECK(out.back()["response"]["status"] == "405 Method Not Allowed");
  CHECK(f.backend.submitted == sent["entry"].size() - 2);
}

TEST_CASE("bundle entries can read, update and search") {
  ServiceFixture f;
  const std::string p = f.new_patient();
  FhirResponse obs = f.send("POST", "Observation",
                            Json{{"resourceType", "Observation"},
                                 {"status", "preliminary"},
                                 {"subject", {{"reference", "Patient/" + p}}}});
  const std::string id = obs.body["id"];
  Json updated = obs.body;
  updated["status"] = "final";
  Json b = {
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry",
       Json::array(
           {{{"resource", updated}, {"request", {{"method", "PUT"}, {"url", "Observation/" + id}}}},
            {{"request", {{"method", "GET"}, {"url", "Observation/" + id}}}},
            {{"request", {{"method", "GET"}, {"url", "Observation?patient=" + p}}}}})}};
  FhirResponse r = f.send("POST", "", b);
  REQUIRE_MESSAGE(r.status == 200, r.body.dump());
  CHECK(r.body["entry"][0]["response"]["status"] == "200 OK");
  CHECK(r.body["entry"][0]["response"]["etag"] == "W/\"0.2\"");
  CHECK(r.body["entry"][1]["resource"]["status"] == "final");  // reads see the writes
  CHECK(r.body["entry"][2]["resource"]["total"] == 1);

  // A stale ifMatch fails the transaction with 412.
  Json stale = {
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry",
       Json::array(
           {{{"resource", updated},
             {"request",
              {{"method", "PUT"}, {"url", "Observation/" + id}, {"ifMatch", "W/\"0.1\""}}}}})}};
  CHECK(f.send("POST", "", stale).status == 412);
  stale["entry"][0]["request"]["ifMatch"] = "W/\"0.2\"";
  CHECK(f.send("POST", "", stale).status == 200);
}

TEST_CASE("bundle limits and shapes") {
  ServiceFixture f;
  Json big = patient_bundle(10, 60);  // 603 entries, over the fixture's 600
  CHECK(f.send("POST", "", big).status == 413);
  CHECK(f.send("POST", "", Json{{"resourceType", "Bundle"}, {"type", "collection"}}).status == 400);
  CHECK(f.send("POST", "", Json{{"resourceType", "Patient"}}).status == 400);
  CHECK(f.send("POST", "", std::string("[")).status == 400);
  Json empty = {{"resourceType", "Bundle"}, {"type", "batch"}};
  CHECK(f.send("POST", "", empty).status == 200);
  // Two patients: a shared Organization cannot be placed.
  Json two = patient_bundle(11, 1);
  const Json second = patient_bundle(12, 1);
  for (const Json& e : second["entry"]) two["entry"].push_back(e);
  FhirResponse r = f.send("POST", "", two);
  CHECK(r.status == 422);
  CHECK(r.body["issue"][0]["diagnostics"].get<std::string>().find("2 patients") !=
        std::string::npos);
  // Writing one resource twice is refused.
  Json twice = patient_bundle(13, 1);
  twice["entry"].push_back(twice["entry"][0]);
  twice["entry"].back()["request"] = {{"method", "PUT"},
                                      {"url", "Patient/" + std::string(64, 'a')}};
  twice["entry"].back()["resource"]["id"] = std::string(64, 'a');
  twice["entry"].back()["fullUrl"] = "urn:uuid:other";
  twice["entry"].push_back(twice["entry"].back());
  twice["entry"].back()["fullUrl"] = "urn:uuid:another";
  r = f.send("POST", "", twice);
  CHECK(r.status == 422);  // the first error: a second patient leaves the Organization homeless
  CHECK(r.body["issue"].back()["diagnostics"].get<std::string>().find("twice") !=
        std::string::npos);
}

TEST_CASE("a transaction that fails while writing says what is already on the chain") {
  ServiceFixture f;
  Json sent = patient_bundle(14, 1);
  f.backend.fail_submits = 0;
  FhirResponse ok = f.send("POST", "", sent);
  REQUIRE(ok.status == 200);
  f.backend.fail_submits = 1;
  FhirResponse r = f.send("POST", "", patient_bundle(15, 1));
  CHECK(r.status == 503);
  CHECK(r.body["issue"].back()["severity"] == "information");
  CHECK(r.body["issue"].back()["diagnostics"].get<std::string>().find("stay on the chain") !=
        std::string::npos);
}

// Shapes real bundles have (tests/fhir/bundles): a document's Composition
// before its Patient, absolute fullUrls with relative references, a
// conditional create, a Binary.
TEST_CASE("a Bundle whose Patient comes after its records, with absolute fullUrls") {
  ServiceFixture f;
  const std::string base = "http://ehr.example/fhir/";
  auto entry = [&](Json resource, Json request) {
    const std::string url = base + resource["resourceType"].get<std::string>() + "/" +
                            resource["id"].get<std::string>();
    return Json{{"fullUrl", url}, {"resource", std::move(resource)}, {"request", request}};
  };
  const Json post_composition = {{"method", "POST"}, {"url", "Composition"}};
  Json sent = {
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry",
       Json::array({entry({{"resourceType", "Composition"},
                           {"id", "c1"},
                           {"status", "final"},
                           {"subject", {{"reference", base + "Patient/d1"}}},
                           {"author", Json::array({{{"reference", "Practitioner/a3"}}})}},
                          post_composition),
                    entry({{"resourceType", "Binary"},
                           {"id", "b1"},
                           {"contentType", "text/plain"},
                           {"data", "aGVsbG8="}},
                          {{"method", "POST"}, {"url", "Binary"}}),
                    entry({{"resourceType", "Patient"}, {"id", "d1"}, {"gender", "female"}},
                          {{"method", "POST"},
                           {"url", "Patient"},
                           {"ifNoneExist", "Patient?identifier=http://acme.org/mrn|1"}}),
                    entry({{"resourceType", "Practitioner"}, {"id", "a3"}},
                          {{"method", "POST"}, {"url", "Practitioner"}})})}};
  FhirResponse r = f.send("POST", "", sent);
  REQUIRE_MESSAGE(r.status == 200, r.body.dump());
  for (const Json& e : r.body["entry"]) CHECK(e["response"]["status"] == "201 Created");
  // The conditional create was not evaluated, and the entry says so.
  const Json& note = r.body["entry"][2]["response"]["outcome"]["issue"][0];
  CHECK(note["diagnostics"].get<std::string>().find("not evaluated") != std::string::npos);
  const std::string patient =
      r.body["entry"][2]["response"]["location"].get<std::string>().substr(8, 64);
  auto got = everything(f, patient);
  auto expected = expected_resources(sent, r.body);
  CHECK(got.size() == expected.size());
  for (const auto& [name, want] : expected) {
    REQUIRE_MESSAGE(got.contains(name), name);
    CHECK_MESSAGE(same_json(without_server_fields(got[name]), want), name);
  }
  // Both reference styles now name the new ids.
  const std::string composition = r.body["entry"][0]["response"]["location"];
  const Json& c = got[composition.substr(0, composition.find("/_history"))];
  CHECK(c["subject"]["reference"] == "Patient/" + patient);
  CHECK(got.contains(c["author"][0]["reference"].get<std::string>()));
}

// HL7's lab report examples name the patient on the DiagnosticReport only.
TEST_CASE("a report's member results without a subject go with the Bundle's patient") {
  ServiceFixture f;
  const std::string p = f.new_patient();
  auto bundle_for = [](const std::vector<std::string>& patients) {
    Json entries = Json::array();
    for (std::size_t i = 0; i < patients.size(); ++i) {
      const std::string member = "urn:uuid:member-" + std::to_string(i);
      entries.push_back({{"fullUrl", member},
                         {"resource", {{"resourceType", "Observation"}, {"status", "final"}}},
                         {"request", {{"method", "POST"}, {"url", "Observation"}}}});
      entries.push_back({{"fullUrl", "urn:uuid:report-" + std::to_string(i)},
                         {"resource",
                          {{"resourceType", "DiagnosticReport"},
                           {"status", "final"},
                           {"subject", {{"reference", "Patient/" + patients[i]}}},
                           {"result", Json::array({{{"reference", member}}})}}},
                         {"request", {{"method", "POST"}, {"url", "DiagnosticReport"}}}});
    }
    return Json{{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", entries}};
  };
  FhirResponse r = f.send("POST", "", bundle_for({p}));
  REQUIRE_MESSAGE(r.status == 200, r.body.dump());
  const std::string member = r.body["entry"][0]["response"]["location"];
  CHECK(*user_of_resource_id(member.substr(12, 64)) == *user_of_patient_id(p));
  CHECK(f.send("GET", "Observation?patient=" + p).body["total"] == 1);
  // It can be corrected later, still without a subject.
  Json v2 = f.send("GET", member.substr(0, member.find("/_history"))).body;
  v2["status"] = "amended";
  CHECK(f.send("PUT", member.substr(0, member.find("/_history")), v2).status == 200);
  // With two patients in the Bundle it has nowhere to go.
  const std::string q = f.new_patient();
  r = f.send("POST", "", bundle_for({p, q}));
  CHECK(r.status == 422);
  CHECK(r.body["issue"][0]["diagnostics"].get<std::string>().find("has no subject") !=
        std::string::npos);
}
