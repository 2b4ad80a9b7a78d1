// Resources to record payloads and back; patient references; JSON limits.
#include <doctest/doctest.h>

#include "common/crypto.hpp"
#include "edge_node/fhir/ids.hpp"
#include "edge_node/fhir/resource_record.hpp"
#include "edge_node/fhir/router.hpp"

using namespace mhr;
using namespace mhr::fhir;

TEST_CASE("the stored payload drops server meta and keeps the client's") {
  Json r = Json::parse(R"({"resourceType":"Observation","status":"final","id":"x",
    "meta":{"versionId":"9","lastUpdated":"2020-01-01T00:00:00Z","profile":["p"],
            "extension":[{"url":"urn:mhr-chain:fhir:chain-record"},{"url":"other"}]}})");
  Json stored = Json::parse(stored_payload(r));
  CHECK(
      stored.dump() ==
      R"({"resourceType":"Observation","id":"x","meta":{"profile":["p"],"extension":[{"url":"other"}]},"status":"final"})");
  Json bare =
      Json::parse(R"({"status":"final","resourceType":"Observation","meta":{"versionId":"1"}})");
  CHECK(stored_payload(bare) == R"({"resourceType":"Observation","status":"final"})");
}

TEST_CASE("a served resource carries its chain position and hash in meta") {
  ChainRecord rec;
  rec.hash = sha256(as_bytes("r"));
  rec.network = 2;
  rec.sequence = 41;
  rec.created_at_us = 1'577'836'800'000'000;
  Json out = presented(
      rec, Json::parse(
               R"({"resourceType":"Patient","id":"p","meta":{"profile":["x"]},"gender":"male"})"));
  CHECK(out["meta"]["versionId"] == "2.41");
  CHECK(out["meta"]["lastUpdated"] == "2020-01-01T00:00:00.000Z");
  CHECK(out["meta"]["profile"] == Json::array({"x"}));
  const Json& ext = out["meta"]["extension"].back();
  CHECK(ext["url"] == kChainExtensionUrl);
  CHECK(ext["extension"][0]["valueUnsignedInt"] == 2);
  CHECK(ext["extension"][1]["valueUnsignedInt"] == 41);
  CHECK(ext["extension"][2]["valueString"] == rec.hash.hex());
  CHECK(out.begin().key() == "resourceType");
  // Serving it and storing it again gives the same payload.
  CHECK(stored_payload(out) ==
        R"({"resourceType":"Patient","id":"p","meta":{"profile":["x"]},"gender":"male"})");
}

TEST_CASE("the patient of a resource comes from its subject or patient element") {
  UserId u{sha256(as_bytes("pat"))};
  const ResourceType& obs = *find_resource_type("Observation");
  Json o = {{"resourceType", "Observation"}, {"subject", {{"reference", "Patient/" + u.hex()}}}};
  CHECK(patient_of(o, obs).value() == u);
  Json none = {{"resourceType", "Observation"}};
  CHECK(patient_of(none, obs).error().status == 422);
  CHECK(patient_of(none, obs).error().diagnostics.find("subject") != std::string::npos);
  Json group = {{"resourceType", "Observation"}, {"subject", {{"reference", "Group/1"}}}};
  CHECK(patient_of(group, obs).error().status == 422);
  // Provenance names its patient among its targets.
  Json prov = {{"resourceType", "Provenance"},
               {"target", Json::array({{{"reference", "Encounter/e"}},
                                       {{"reference", "Patient/" + u.hex()}}})}};
  CHECK(patient_of(prov, *find_resource_type("Provenance")).value() == u);
  Json imm = {{"resourceType", "Immunization"}, {"patient", {{"reference", "Patient/" + u.hex()}}}};
  CHECK(patient_of(imm, *find_resource_type("Immunization")).value() == u);
  Json org = {{"resourceType", "Organization"}};
  CHECK(patient_of(org, *find_resource_type("Organization")).error().status == 422);
}

TEST_CASE("references are rewritten wherever they are") {
  Json r = Json::parse(R"({"a":{"reference":"urn:uuid:1"},"b":[{"reference":"urn:uuid:2"},
     {"x":{"reference":"urn:uuid:3","display":"d"}}],"reference":"urn:uuid:1"})");
  rewrite_references(r, {{"urn:uuid:1", "Patient/p"}, {"urn:uuid:3", "Encounter/e"}});
  CHECK(r["a"]["reference"] == "Patient/p");
  CHECK(r["b"][0]["reference"] == "urn:uuid:2");
  CHECK(r["b"][1]["x"]["reference"] == "Encounter/e");
  CHECK(r["reference"] == "Patient/p");
}

TEST_CASE("JSON input: malformed, too deep, not a known resource") {
  CHECK(parse_json("{").error().status == 400);
  CHECK(parse_json("{\"a\":\"\xff\"}").error().status == 400);
  // A number no double holds (found by fuzz_fhir): out_of_range, not parse_error.
  CHECK(parse_json("{\"valueDecimal\": 4E4444}").error().status == 400);
  CHECK(parse_json("[-1e99999]").error().status == 400);
  CHECK(parse_json(std::string(100, '[') + std::string(100, ']')).error().status == 400);
  CHECK(parse_json(
      R"({"s":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["})"));
  CHECK(check_resource(Json::array(), std::nullopt).error().status == 400);
  CHECK(check_resource({{"resourceType", "Spaceship"}}, std::nullopt).error().status == 404);
  CHECK(check_resource({{"resourceType", "Patient"}}, "Observation").error().status == 400);
  CHECK(check_resource({{"resourceType", "Patient"}, {"id", 5}}, "Patient").error().status == 400);
  CHECK(check_resource({{"resourceType", "Patient"}}, "Patient"));
}

TEST_CASE("URLs split into a path and decoded parameters") {
  auto [path, params] =
      split_url("Observation?patient=Patient%2Fab&date=ge2020&_count=5&flag&a=b+c");
  CHECK(path == "Observation");
  REQUIRE(params.size() == 5);
  CHECK(params[0] == std::pair<std::string, std::string>{"patient", "Patient/ab"});
  CHECK(params[3] == std::pair<std::string, std::string>{"flag", ""});
  CHECK(params[4].second == "b c");
  CHECK(url_decode("100%") == "100%");
  CHECK(url_decode("%zz") == "%zz");
  CHECK(url_encode("a b/c:d") == "a%20b/c:d");
  CHECK(split_url("Patient").second.empty());
}
