// The FHIR gateway in a real edge_node process, driven with curl: a small
// deployment (consensus, index and two record nodes, ZeroMQ, LMDB) whose
// first record node serves FHIR. What a hospital system would see.
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/crypto.hpp"
#include "tests/fhir/sample_bundle.hpp"
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
    // A second caller, keyed the way an operator does it: mhr fhir-key.
    std::string keygen;
    {
      std::FILE* p = ::popen(
          (std::string(MHR_BIN_DIR) + "/mhr fhir-key --name hospital-ehr --kind institution")
              .c_str(),
          "r");
      REQUIRE(p != nullptr);
      char buf[512];
      std::size_t got;
      while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) keygen.append(buf, got);
      REQUIRE(::pclose(p) == 0);
    }
    const auto key_at = keygen.find('\n') + 3;  // the key is on line 2, indented by 2
    institution_key_ = keygen.substr(key_at, 64);
    const std::string entry = keygen.substr(keygen.find("    - name:"));
    ClusterOptions o;
    o.dir = dir_ + "/run";
    o.bin_dir = MHR_BIN_DIR;
    o.fsync = false;
    o.node_file_extra[kFhirNode] =
        "fhir:\n  listen: 127.0.0.1:" + std::to_string(port_) + "\n" + tls_yaml +
        "  max_body: 2MiB\n  api_keys:\n    - name: dr-test\n      kind: clinician\n"
        "      sha256: " +
        sha256(as_bytes(kApiKey)).hex() + "\n" + entry;
    Scenario s = load_scenario_string(kScenario, name + ".yaml");
    cluster_ = std::make_unique<Cluster>(s, protocol_params(s, ScenarioMode::kBroadcast), o);
    cluster_->start_all();
    cluster_->wait_ready(30 * kUsPerSecond);
    wait_for_gateway();
  }
  ~FhirCluster() {
    cluster_.reset();
    std::filesystem::remove_all(dir_);
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
};

std::string diagnostics(const HttpResult& r) {
  if (!r.body.is_object() || !r.body.contains("issue")) return "";
  return r.body["issue"][0].value("diagnostics", "");
}

// Imports a transaction Bundle and checks that $everything gives back every
// entry equal to what was sent (references rewritten to the new ids).
void import_and_compare(FhirCluster& c, const Json& bundle) {
  HttpResult r = c.request("POST", "", bundle);
  REQUIRE_MESSAGE(r.status == 200, r.body.dump().substr(0, 2000));
  REQUIRE(r.body["entry"].size() == bundle["entry"].size());
  std::string patient;
  for (const Json& e : r.body["entry"]) {
    CHECK_MESSAGE(e["response"]["status"] == "201 Created", e.dump());
    const std::string loc = e["response"].value("location", "");
    if (loc.starts_with("Patient/")) patient = loc.substr(8, 64);
  }
  REQUIRE(!patient.empty());
  auto expected = expected_resources(bundle, r.body);
  auto got = c.everything(patient);
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
  batch["entry"][3]["resource"].erase("subject");
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

// Real patient bundles written by other tools (e.g. Synthea's output):
// MHR_FHIR_BUNDLES=DIR imports every *.json transaction Bundle in DIR and
// checks it reads back equal. Without it there is nothing to run.
TEST_CASE("process: external patient bundles import completely and read back equal") {
  const char* dir = std::getenv("MHR_FHIR_BUNDLES");
  if (!dir || !*dir) {
    MESSAGE("MHR_FHIR_BUNDLES not set: no external bundles to import");
    return;
  }
  FhirCluster c("external");
  int n = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().extension() != ".json") continue;
    std::ifstream in(f.path());
    Json bundle = Json::parse(in);
    if (bundle.value("type", "") != "transaction") continue;
    INFO(f.path().string());
    import_and_compare(c, bundle);
    ++n;
  }
  MESSAGE(n << " external bundles imported");
  CHECK(n > 0);
}
