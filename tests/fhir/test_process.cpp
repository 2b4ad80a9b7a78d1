// The FHIR gateway in a real edge_node process, driven with curl: a small
// deployment (consensus, index and two record nodes, ZeroMQ, LMDB) whose
// first record node serves FHIR. What a hospital system would see.
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "common/crypto.hpp"
#include "edge_node/fhir/consent_mapping.hpp"
#include "tests/fhir/sample_bundle.hpp"
#include "tests/fhir/third_party_bundle.hpp"
#include "tests/test_dirs.hpp"
#include "tools/launch/cluster.hpp"

using namespace mhr;
using namespace mhr::fhir;
using namespace mhr::fhir::test;

namespace {

const char* kScenario = R"(
duration: 60s
topology: {networks: 1, record_nodes: 2}
protocol: {retry_timeout: 200ms, retry_max_backoff: 1s}
workload: {users: 1, record_rate: 1}
)";
const char* kApiKey = "test-key-0123456789abcdef";
const char* kFhirNode = "net0.r0";

// An API key and its fhir.api_keys entry, as `mhr fhir-key ARGS` prints them.
std::pair<std::string, std::string> fhir_key(const std::string& args) {
  std::string out;
  std::FILE* p = ::popen((std::string(MHR_BIN_DIR) + "/mhr fhir-key " + args).c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[512];
  std::size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, got);
  REQUIRE(::pclose(p) == 0);
  const auto key_at = out.find('\n') + 3;  // the key is on line 2, indented by 2
  return {out.substr(key_at, 64), out.substr(out.find("    - name:"))};
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct HttpResult {
  int status = 0;
  Json body;
  std::string headers;
};

class FhirCluster {
 public:
  explicit FhirCluster(const std::string& name, bool tls = false)
      : dir_(std::filesystem::temp_directory_path().string() + "/mhr-fhir-" + name + "-" +
             std::to_string(::getpid())),
        port_(free_tcp_port()),
        scheme_(tls ? "https" : "http") {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::string tls_yaml;
    if (tls) {
      const std::string cmd =
          "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost "
          "-days 1 -keyout " +
          dir_ + "/tls.key -out " + dir_ + "/tls.crt >/dev/null 2>&1";
      REQUIRE(std::system(cmd.c_str()) == 0);
      tls_yaml = "  tls: {cert: " + dir_ + "/tls.crt, key: " + dir_ + "/tls.key}\n";
    }
    // Two more callers, keyed the way an operator does it: mhr fhir-key.
    auto [institution_key, institution_entry] = fhir_key("--name hospital-ehr --kind institution");
    auto [outside_key, outside_entry] = fhir_key("--name dr-outside --external");
    institution_key_ = institution_key;
    outside_key_ = outside_key;
    ClusterOptions o;
    o.dir = dir_ + "/run";
    o.bin_dir = MHR_BIN_DIR;
    o.fsync = false;
    o.node_file_extra[kFhirNode] =
        "fhir:\n  listen: 127.0.0.1:" + std::to_string(port_) + "\n" + tls_yaml +
        "  max_body: 2MiB\n  api_keys:\n    - name: dr-test\n      kind: clinician\n"
        "      sha256: " +
        sha256(as_bytes(kApiKey)).hex() + "\n" + institution_entry + outside_entry;
    Scenario s = load_scenario_string(kScenario, name + ".yaml");
    cluster_ = std::make_unique<Cluster>(s, protocol_params(s, ScenarioMode::kBroadcast), o);
    cluster_->start_all();
    cluster_->wait_ready(30 * kUsPerSecond);
    wait_for_gateway();
  }
  ~FhirCluster() {
    cluster_.reset();
    mhr::test::remove_test_dir(dir_);
  }

  std::string url(const std::string& path) const {
    return scheme_ + "://127.0.0.1:" + std::to_string(port_) + "/fhir" +
           (path.empty() ? "" : "/" + path);
  }

  // One request with curl; `key` empty sends no Authorization header.
  HttpResult request(const std::string& method, const std::string& path,
                     const std::string& body = "", const std::string& key = kApiKey,
                     const std::vector<std::string>& headers = {}) {
    const std::string n = std::to_string(calls_++);  // requests may run on several threads
    const std::string out = dir_ + "/out" + n + ".json", hdr = dir_ + "/headers" + n + ".txt",
                      in = dir_ + "/in" + n + ".json";
    std::string cmd =
        "curl -sS -k --max-time 120 -o " + out + " -D " + hdr + " -w '%{http_code}' -X " + method;
    if (!key.empty()) cmd += " -H " + quote("Authorization: Bearer " + key);
    for (const std::string& h : headers) cmd += " -H " + quote(h);
    if (!body.empty()) {
      std::ofstream(in, std::ios::binary) << body;
      cmd += " -H 'Content-Type: application/fhir+json' --data-binary @" + in;
    }
    cmd += " " + quote(url(path));
    HttpResult r;
    std::FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return r;  // status 0: the caller's check fails
    char buf[16] = {};
    std::size_t got = std::fread(buf, 1, sizeof buf - 1, p);
    if (::pclose(p) != 0) return r;
    r.status = std::atoi(std::string(buf, got).c_str());
    std::ifstream o(out), h(hdr);
    std::stringstream body_text, header_text;
    body_text << o.rdbuf();
    header_text << h.rdbuf();
    r.headers = header_text.str();
    if (!body_text.str().empty()) r.body = Json::parse(body_text.str(), nullptr, false);
    std::filesystem::remove(out);
    std::filesystem::remove(hdr);
    std::filesystem::remove(in);
    return r;
  }
  HttpResult request(const std::string& method, const std::string& path, const Json& body) {
    return request(method, path, body.dump());
  }

  std::string new_patient() {
    HttpResult r = request(
        "POST", "Patient",
        Json{{"resourceType", "Patient"}, {"gender", "female"}, {"birthDate", "1980-01-01"}});
    REQUIRE_MESSAGE(r.status == 201, r.body.dump());
    return r.body["id"];
  }

  // Every resource of the patient, by "Type/id", following next links.
  std::map<std::string, Json> everything(const std::string& patient) {
    std::map<std::string, Json> out;
    std::string next = "Patient/" + patient + "/$everything?_count=100";
    while (!next.empty()) {
      HttpResult r = request("GET", next);
      REQUIRE_MESSAGE(r.status == 200, r.body.dump());
      for (const Json& e : r.body.value("entry", Json::array()))
        out[e["resource"]["resourceType"].get<std::string>() + "/" +
            e["resource"]["id"].get<std::string>()] = e["resource"];
      next.clear();
      for (const Json& l : r.body["link"])
        if (l["relation"] == "next") next = l["url"].get<std::string>().substr(url("").size() + 1);
    }
    return out;
  }

  // Stops the gateway's node (SIGTERM) and starts it again.
  void restart_gateway_node() {
    for (const NodeInfo& n : cluster_->deployment().topology->nodes())
      if (n.name == kFhirNode) {
        cluster_->stop(n.id);
        cluster_->start(n.id);
      }
    cluster_->wait_ready(30 * kUsPerSecond);
    wait_for_gateway();
  }

 private:
  void wait_for_gateway() {
    for (int i = 0; i < 100; ++i) {
      const std::string cmd = "curl -sk -o /dev/null " + quote(url("metadata"));
      if (std::system(cmd.c_str()) == 0) return;
      ::usleep(100'000);
    }
    FAIL("the FHIR gateway did not answer on port " << port_);
  }

  std::string dir_;
  int port_;
  std::string scheme_;
  std::unique_ptr<Cluster> cluster_;
  std::atomic<int> calls_{0};

 public:
  std::string institution_key_;  // made by mhr fhir-key
  std::string outside_key_;      // an external identity's, made by mhr fhir-key --external
};

std::string diagnostics(const HttpResult& r) {
  if (!r.body.is_object() || !r.body.contains("issue")) return "";
  return r.body["issue"][0].value("diagnostics", "");
}

// Imports a transaction Bundle and checks that $everything gives back every
// entry equal to what was sent (references rewritten to the new ids).
// `patient`: the patient of a Bundle that has no Patient entry.
void import_and_compare(FhirCluster& c, const Json& bundle, std::string patient = "") {
  HttpResult r = c.request("POST", "", bundle);
  REQUIRE_MESSAGE(r.status == 200, r.body.dump().substr(0, 2000));
  REQUIRE(r.body["entry"].size() == bundle["entry"].size());
  const std::string made_before = patient;
  for (const Json& e : r.body["entry"]) {
    CHECK_MESSAGE(e["response"]["status"] == "201 Created", e.dump());
    const std::string loc = e["response"].value("location", "");
    if (loc.starts_with("Patient/")) patient = loc.substr(8, 64);
  }
  REQUIRE(!patient.empty());
  auto expected = expected_resources(bundle, r.body);
  auto got = c.everything(patient);
  if (!made_before.empty()) got.erase("Patient/" + made_before);
  CHECK(got.size() == expected.size());
  for (const auto& [name, want] : expected) {
    REQUIRE_MESSAGE(got.contains(name), name);
    CHECK_MESSAGE(same_json(without_server_fields(got[name]), want), name);
  }
}

}  // namespace

TEST_CASE("process: create then read back, history after PUT and a restart, DELETE refused") {
  FhirCluster c("crud");
  HttpResult meta = c.request("GET", "metadata", "", "");
  CHECK(meta.status == 200);
  CHECK(meta.body["resourceType"] == "CapabilityStatement");

  const std::string p = c.new_patient();
  Json obs = {{"resourceType", "Observation"},
              {"status", "final"},
              {"code", coding("http://loinc.org", "29463-7", "Body Weight")},
              {"subject", {{"reference", "Patient/" + p}}},
              {"effectiveDateTime", "2021-03-04T05:06:07+01:00"},
              {"valueQuantity", {{"value", 72.4}, {"unit", "kg"}}}};
  HttpResult created = c.request("POST", "Observation", obs);
  REQUIRE_MESSAGE(created.status == 201, created.body.dump());
  CHECK(created.headers.find("Location: ") != std::string::npos);
  const std::string id = created.body["id"];

  HttpResult read = c.request("GET", "Observation/" + id);
  REQUIRE(read.status == 200);
  CHECK(same_json(without_server_fields(read.body), obs));
  const Json& chain = read.body["meta"]["extension"][0];
  CHECK(chain["url"] == kChainExtensionUrl);
  CHECK(chain["extension"][2]["valueString"].get<std::string>().size() == 64);

  Json v2 = read.body;
  v2["valueQuantity"]["value"] = 72.9;
  HttpResult updated = c.request("PUT", "Observation/" + id, v2);
  REQUIRE_MESSAGE(updated.status == 200, updated.body.dump());
  CHECK(updated.body["meta"]["versionId"] != read.body["meta"]["versionId"]);
  HttpResult history = c.request("GET", "Observation/" + id + "/_history");
  REQUIRE(history.status == 200);
  CHECK(history.body["total"] == 2);
  CHECK(history.body["entry"][0]["resource"]["valueQuantity"]["value"] == 72.9);
  CHECK(history.body["entry"][1]["resource"]["valueQuantity"]["value"] == 72.4);
  CHECK(c.request("GET", "Observation/" + id).body["valueQuantity"]["value"] == 72.9);

  HttpResult del = c.request("DELETE", "Observation/" + id);
  CHECK(del.status == 405);
  CHECK(diagnostics(del).find("permanent") != std::string::npos);

  // Ids name their patient: after a restart there is no index to rebuild.
  c.restart_gateway_node();
  CHECK(c.request("GET", "Observation/" + id + "/_history").body["total"] == 2);

  HttpResult search = c.request("GET", "Observation?patient=" + p + "&date=ge2021-03-01&_count=1");
  CHECK(search.status == 200);
  CHECK(search.body["total"] == 1);
  CHECK(c.request("GET", "Observation?patient=" + p + "&date=lt2021").body["total"] == 0);
}

TEST_CASE("process: every error is an OperationOutcome with its status") {
  FhirCluster c("errors");
  const std::string p = c.new_patient();
  auto outcome = [](const HttpResult& r) {
    return r.body.value("resourceType", "") == "OperationOutcome";
  };

  HttpResult r = c.request("GET", "Patient/" + p, "", "");
  CHECK(r.status == 401);
  CHECK(outcome(r));
  CHECK(r.headers.find("WWW-Authenticate") != std::string::npos);
  CHECK(c.request("GET", "Patient/" + p, "", c.institution_key_).status == 200);
  r = c.request("GET", "Patient/" + p, "", "wrong-key");
  CHECK(r.status == 401);
  CHECK(diagnostics(r).find("unknown API key") != std::string::npos);

  r = c.request("POST", "Observation", std::string("{\"resourceType\": \"Observation\", "));
  CHECK(r.status == 400);
  CHECK(outcome(r));
  CHECK(diagnostics(r).find("malformed JSON") != std::string::npos);

  r = c.request("POST", "Spaceship", Json{{"resourceType", "Spaceship"}});
  CHECK(r.status == 404);
  CHECK(outcome(r));

  r = c.request("POST", "Observation", Json{{"resourceType", "Observation"}, {"status", "final"}});
  CHECK(r.status == 422);
  CHECK(diagnostics(r).find("subject") != std::string::npos);

  // Over the 2MiB body limit of this node.
  Json big = {{"resourceType", "Observation"},
              {"subject", {{"reference", "Patient/" + p}}},
              {"note", Json::array({{{"text", std::string(3 << 20, 'x')}}})}};
  r = c.request("POST", "Observation", big);
  CHECK(r.status == 413);
  CHECK(outcome(r));

  r = c.request("GET", "Observation/does-not-exist");
  CHECK(r.status == 404);
  CHECK(outcome(r));
  r = c.request("GET", "nothing/here/at/all/really");
  CHECK(r.status == 404);
}

TEST_CASE("process: a Bundle of a few hundred mixed resources reads back via $everything") {
  FhirCluster c("bundle");
  import_and_compare(c, patient_bundle(21, 30));  // 303 entries
  // A batch of another patient next to it, with one bad entry.
  Json batch = patient_bundle(22, 2, "batch");
  batch["entry"][3]["resource"]["subject"]["reference"] = "Patient/123";
  HttpResult r = c.request("POST", "", batch);
  REQUIRE(r.status == 200);
  CHECK(r.body["type"] == "batch-response");
  CHECK(r.body["entry"][3]["response"]["status"] == "422 Unprocessable Entity");
  CHECK(r.body["entry"][4]["response"]["status"] == "201 Created");
}

TEST_CASE("process: concurrent clients: every write lands, PUTs never fork a history") {
  FhirCluster c("concurrent");
  const std::string p = c.new_patient();
  HttpResult first = c.request("POST", "Observation",
                               Json{{"resourceType", "Observation"},
                                    {"status", "preliminary"},
                                    {"subject", {{"reference", "Patient/" + p}}}});
  REQUIRE(first.status == 201);
  const std::string shared_id = first.body["id"];
  std::atomic<int> created{0}, updated{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t)
    clients.emplace_back([&, t] {
      for (int k = 0; k < 4; ++k) {
        Json obs = {{"resourceType", "Observation"},
                    {"status", "final"},
                    {"subject", {{"reference", "Patient/" + p}}},
                    {"valueInteger", t * 10 + k}};
        if (c.request("POST", "Observation", obs).status == 201) ++created;
        obs["id"] = shared_id;
        if (c.request("PUT", "Observation/" + shared_id, obs).status == 200) ++updated;
        c.request("GET", "Patient/" + p + "/$everything");
      }
    });
  for (auto& t : clients) t.join();
  CHECK(created == 24);
  CHECK(updated == 24);
  CHECK(c.request("GET", "Observation?patient=" + p + "&_count=0").body["total"] == 25);
  // One line of versions: each PUT superseded the one before it.
  HttpResult h = c.request("GET", "Observation/" + shared_id + "/_history?_count=100");
  REQUIRE(h.status == 200);
  CHECK(h.body["total"] == 25);
}

TEST_CASE("process: the gateway serves HTTPS when given a certificate") {
  FhirCluster c("tls", /*tls=*/true);
  const std::string p = c.new_patient();
  HttpResult r = c.request("GET", "Patient/" + p);
  CHECK(r.status == 200);
  CHECK(r.body["id"] == p);
}

namespace {

Json consent_for(const std::string& patient, std::string_view system, const std::string& actor,
                 Json klass = Json::array()) {
  Json provision = {
      {"type", "permit"},
      {"actor",
       Json::array({{{"reference", {{"identifier", {{"system", system}, {"value", actor}}}}}}})}};
  if (!klass.empty()) provision["class"] = std::move(klass);
  return {{"resourceType", "Consent"},
          {"status", "active"},
          {"scope", coding("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy",
                           "Privacy Consent")},
          {"category", Json::array({coding("http://loinc.org", "59284-0", "Patient Consent")})},
          {"patient", {{"reference", "Patient/" + patient}}},
          {"provision", std::move(provision)}};
}

// A medical and a billing record of the patient, as written.
std::pair<Json, Json> observation_and_claim(FhirCluster& c, const std::string& patient) {
  Json obs = {{"resourceType", "Observation"},
              {"status", "final"},
              {"code", coding("http://loinc.org", "8867-4", "Heart rate")},
              {"subject", {{"reference", "Patient/" + patient}}},
              {"valueQuantity", {{"value", 61}, {"unit", "/min"}}}};
  Json claim = {{"resourceType", "Claim"},
                {"status", "active"},
                {"use", "claim"},
                {"patient", {{"reference", "Patient/" + patient}}},
                {"created", "2021-05-06"}};
  for (Json* r : {&obs, &claim}) {
    HttpResult w = c.request("POST", (*r)["resourceType"].get<std::string>(), *r);
    REQUIRE_MESSAGE(w.status == 201, w.body.dump());
    (*r)["id"] = w.body["id"];
  }
  return {obs, claim};
}

std::string path_of(const Json& r) {
  return r["resourceType"].get<std::string>() + "/" + r["id"].get<std::string>();
}

Json without_id(Json r) {
  r.erase("id");
  return r;
}

}  // namespace

TEST_CASE("process: a Consent opens a patient's records to an external identity, and closes them") {
  FhirCluster c("consent");
  const std::string p = c.new_patient();
  auto [obs, claim] = observation_and_claim(c, p);
  auto as_outsider = [&](const std::string& path) {
    return c.request("GET", path, "", c.outside_key_);
  };
  HttpResult r = as_outsider(path_of(obs));
  CHECK(r.status == 403);
  CHECK(r.body.value("resourceType", "") == "OperationOutcome");
  CHECK(as_outsider("Patient/" + p + "/$everything").status == 403);
  // It cannot grant itself access either.
  CHECK(c.request("POST", "Consent", consent_for(p, kApiKeyActorSystem, "dr-outside").dump(),
                  c.outside_key_)
            .status == 403);

  HttpResult granted =
      c.request("POST", "Consent", consent_for(p, kApiKeyActorSystem, "dr-outside"));
  REQUIRE_MESSAGE(granted.status == 201, granted.body.dump());
  CHECK(consent_grants(granted.body).size() == 1);
  r = as_outsider(path_of(obs));
  REQUIRE_MESSAGE(r.status == 200, r.body.dump());
  CHECK(same_json(without_server_fields(r.body), without_id(obs)));
  r = as_outsider(path_of(claim));
  CHECK(r.status == 200);
  CHECK(same_json(without_server_fields(r.body), without_id(claim)));
  r = as_outsider("Patient/" + p + "/$everything");
  REQUIRE(r.status == 200);
  CHECK(r.body["total"] == 4);  // Patient, Observation, Claim, Consent

  Json inactive = granted.body;
  inactive["status"] = "inactive";
  HttpResult put = c.request("PUT", path_of(granted.body), inactive);
  REQUIRE_MESSAGE(put.status == 200, put.body.dump());
  CHECK(consent_grants(put.body).empty());
  CHECK(as_outsider(path_of(obs)).status == 403);
  CHECK(as_outsider("Patient/" + p + "/$everything").status == 403);
  // The institution still reads everything, the Consent's history included.
  CHECK(c.request("GET", path_of(granted.body) + "/_history").body["total"] == 2);

  {  // a Consent scoped to a category opens only those records
    const std::string q = c.new_patient();
    auto [obs2, claim2] = observation_and_claim(c, q);
    HttpResult scoped =
        c.request("POST", "Consent",
                  consent_for(q, kApiKeyActorSystem, "dr-outside",
                              Json::array({{{"system", kCategorySystem}, {"code", "medical"}}})));
    REQUIRE_MESSAGE(scoped.status == 201, scoped.body.dump());
    CHECK(as_outsider(path_of(obs2)).status == 200);
    CHECK(as_outsider(path_of(claim2)).status == 404);
    r = as_outsider("Patient/" + q + "/$everything");
    REQUIRE(r.status == 200);
    REQUIRE(r.body["total"] == 1);
    CHECK(r.body["entry"][0]["resource"]["id"] == obs2["id"]);
    // The first patient's records stay closed.
    CHECK(as_outsider(path_of(obs)).status == 403);
    // A record node of the deployment can be the grantee too.
    CHECK(c.request("POST", "Consent", consent_for(q, kNodeActorSystem, "net0.r1")).status == 201);
    // A deny for dr-outside revokes its grant from the scoped Consent.
    Json deny = consent_for(q, kApiKeyActorSystem, "dr-outside");
    deny["provision"]["type"] = "deny";
    HttpResult denied = c.request("POST", "Consent", deny);
    REQUIRE_MESSAGE(denied.status == 201, denied.body.dump());
    CHECK(as_outsider(path_of(obs2)).status == 403);
  }

  {  // errors
    // A patient whose key is not in this gateway's custody must sign.
    r = c.request("POST", "Consent",
                  consent_for(std::string(64, 'c'), kApiKeyActorSystem, "dr-outside"));
    CHECK(r.status == 403);
    CHECK(diagnostics(r).find("mhr grant") != std::string::npos);
    r = c.request("POST", "Consent", consent_for(p, kApiKeyActorSystem, "nobody"));
    CHECK(r.status == 422);
    CHECK(r.body.value("resourceType", "") == "OperationOutcome");
    r = c.request("POST", "Consent", consent_for(p, kNodeActorSystem, "net9.r9"));
    CHECK(r.status == 422);
    Json orphan = consent_for(p, kApiKeyActorSystem, "dr-outside");
    orphan.erase("patient");
    CHECK(c.request("POST", "Consent", orphan).status == 422);
    CHECK(as_outsider(path_of(obs)).status == 403);
  }
}

namespace {

Json party_entry(const std::string& type, const std::string& full_url, std::string_view system,
                 const std::string& value) {
  return {{"fullUrl", full_url},
          {"resource",
           {{"resourceType", type},
            {"identifier", Json::array({{{"system", system}, {"value", value}}})}}},
          {"request", {{"method", "POST"}, {"url", type}}}};
}

Json consent_naming(const std::string& patient, const std::string& reference,
                    const char* type = "permit") {
  Json c = consent_for(patient, kApiKeyActorSystem, "unused");
  c["provision"]["type"] = type;
  c["provision"]["actor"][0]["reference"] = {{"reference", reference}};
  return c;
}

}  // namespace

TEST_CASE(
    "process: a Consent actor referencing a Practitioner or Organization grants the party "
    "its identifier names") {
  FhirCluster c("consent-reference");
  auto as_outsider = [&](const std::string& path) {
    return c.request("GET", path, "", c.outside_key_);
  };

  {  // A patient Bundle whose Consent names a Practitioner of the same Bundle by urn:uuid.
    const std::string p = c.new_patient();
    Json bundle = {
        {"resourceType", "Bundle"},
        {"type", "transaction"},
        {"entry",
         Json::array(
             {{{"resource", consent_naming(p, "urn:uuid:dr-outside")},
               {"request", {{"method", "POST"}, {"url", "Consent"}}}},
              party_entry("Practitioner", "urn:uuid:dr-outside", kApiKeyActorSystem, "dr-outside"),
              {{"fullUrl", "urn:uuid:obs"},
               {"resource",
                {{"resourceType", "Observation"},
                 {"status", "final"},
                 {"code", coding("http://loinc.org", "8867-4", "Heart rate")},
                 {"subject", {{"reference", "Patient/" + p}}},
                 {"performer", Json::array({{{"reference", "urn:uuid:dr-outside"}}})}}},
               {"request", {{"method", "POST"}, {"url", "Observation"}}}}})}};
    HttpResult r = c.request("POST", "", bundle);
    REQUIRE_MESSAGE(r.status == 200, r.body.dump());
    for (const Json& e : r.body["entry"]) CHECK(e["response"]["status"] == "201 Created");
    const std::string obs = r.body["entry"][2]["response"]["location"];
    HttpResult read = as_outsider(obs.substr(0, obs.find("/_history")));
    CHECK_MESSAGE(read.status == 200, read.body.dump());
    // The stored Consent names the Practitioner by its new id, and its grant.
    const std::string consent = r.body["entry"][0]["response"]["location"];
    HttpResult stored = c.request("GET", consent.substr(0, consent.find("/_history")));
    REQUIRE(stored.status == 200);
    CHECK(stored.body["provision"]["actor"][0]["reference"]["reference"]
              .get<std::string>()
              .starts_with("Practitioner/"));
    CHECK(consent_grants(stored.body).size() == 1);
  }

  {  // A Consent on its own naming a Practitioner stored on the patient's timeline.
    const std::string q = c.new_patient();
    auto [obs, claim] = observation_and_claim(c, q);
    Json bundle = {
        {"resourceType", "Bundle"},
        {"type", "transaction"},
        {"entry",
         Json::array(
             {party_entry("Practitioner", "urn:uuid:a", kApiKeyActorSystem, "dr-outside"),
              party_entry("Organization", "urn:uuid:b", "http://hl7.org/fhir/sid/us-npi", "1234"),
              // gives the Bundle its patient
              {{"resource",
                {{"resourceType", "Encounter"},
                 {"status", "finished"},
                 {"subject", {{"reference", "Patient/" + q}}}}},
               {"request", {{"method", "POST"}, {"url", "Encounter"}}}}})}};
    HttpResult made = c.request("POST", "", bundle);
    REQUIRE_MESSAGE(made.status == 200, made.body.dump());
    auto stored_as = [&](int i) {
      const std::string loc = made.body["entry"][i]["response"]["location"];
      return loc.substr(0, loc.find("/_history"));
    };
    const std::string practitioner = stored_as(0), organization = stored_as(1);
    CHECK(as_outsider(path_of(obs)).status == 403);
    HttpResult granted = c.request("POST", "Consent", consent_naming(q, practitioner));
    REQUIRE_MESSAGE(granted.status == 201, granted.body.dump());
    CHECK(as_outsider(path_of(obs)).status == 200);
    CHECK(as_outsider(path_of(claim)).status == 200);
    // A deny naming the same Practitioner revokes it.
    HttpResult denied = c.request("POST", "Consent", consent_naming(q, practitioner, "deny"));
    REQUIRE_MESSAGE(denied.status == 201, denied.body.dump());
    CHECK(as_outsider(path_of(obs)).status == 403);

    // References that resolve to no party of this chain: 422, nothing granted.
    for (const std::string& ref :
         {std::string("Practitioner/123"), organization, path_of(obs), std::string("urn:uuid:a")}) {
      HttpResult r = c.request("POST", "Consent", consent_naming(q, ref));
      CHECK_MESSAGE(r.status == 422, ref);
      CHECK(r.body.value("resourceType", "") == "OperationOutcome");
      CHECK_MESSAGE(diagnostics(r).find(ref) != std::string::npos, diagnostics(r));
    }
    CHECK(as_outsider(path_of(obs)).status == 403);
  }
}

namespace {

// Imports every patient Bundle (transaction, document, collection) of the
// *.json files in `dir`, each read back equal; returns how many. Batch
// Bundles (Synthea's hospital and practitioner files) are skipped.
int import_directory(FhirCluster& c, const std::string& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& f : std::filesystem::directory_iterator(dir))
    if (f.path().extension() == ".json") files.push_back(f.path());
  std::sort(files.begin(), files.end());
  int n = 0;
  for (const auto& path : files) {
    INFO(path.string());
    std::ifstream in(path);
    auto bundle = as_transaction(Json::parse(in));
    if (!bundle) continue;
    std::string patient;
    if (!bundle->absent_patient.empty()) {
      // About a patient the sender expects on the server: made first.
      patient = c.new_patient();
      point_at_patient(*bundle, "Patient/" + patient);
    }
    import_and_compare(c, bundle->transaction, patient);
    ++n;
  }
  return n;
}

}  // namespace

// The bundles in tests/fhir/bundles (HL7's R4 examples: an XDS submission, a
// discharge summary document, genotyping and lab reports).
TEST_CASE("process: vendored third-party bundles import completely and read back equal") {
  FhirCluster c("vendored");
  int files = 0;
  for (const auto& f : std::filesystem::directory_iterator(MHR_FHIR_BUNDLE_DIR))
    files += f.path().extension() == ".json";
  CHECK(files > 0);
  CHECK(import_directory(c, MHR_FHIR_BUNDLE_DIR) == files);  // none skipped
}

// More real patient bundles written by other tools (e.g. Synthea's output):
// MHR_FHIR_BUNDLES=DIR imports every patient Bundle in DIR the same way.
TEST_CASE("process: external patient bundles import completely and read back equal") {
  const char* dir = std::getenv("MHR_FHIR_BUNDLES");
  if (!dir || !*dir) {
    MESSAGE("MHR_FHIR_BUNDLES not set: no external bundles to import");
    return;
  }
  FhirCluster c("external");
  const int n = import_directory(c, dir);
  MESSAGE(n << " external bundles imported");
  CHECK(n > 0);
}
