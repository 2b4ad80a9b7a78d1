// libFuzzer target: FHIR JSON ingestion. The input is up to four requests
// to the gateway's core (FhirService, no sockets) over an in-memory backend
// that already holds a patient with a Practitioner and an Observation:
//
//   POST Observation            <- "METHOD path?query"; '!' before METHOD:
//   {"resourceType": ...}          as an external identity. The body follows.
//   ---                         <- a line of three dashes separates requests
//   GET Patient/{patient}/$everything
//
// {patient}, {practitioner} and {observation} stand for the fixture's ids,
// so inputs reach past the id checks. Properties: the service never
// throws; every answer is a FHIR resource with a known status, an error an
// OperationOutcome; what a write accepts reads back equal at the location
// it names; and afterwards every patient's timeline still reads.
// MHR_FUZZ_TRACE=1 prints each request's status and first issue (to see
// what a seed or a reproducer does).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/sim/rng.hpp"
#include "edge_node/fhir/ids.hpp"
#include "edge_node/fhir/router.hpp"
#include "edge_node/fhir/service.hpp"
#include "tests/fhir/memory_backend.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace mhr;
using namespace mhr::fhir;

namespace {

constexpr std::size_t kMaxRequests = 4;
constexpr std::size_t kMaxPatientsChecked = 8;
const std::string kBase = "http://fuzz.test/fhir";
const Identity kInstitution{"dr-test", "clinician", false};
const Identity kExternal{"dr-outside", "clinician", true};

// A fresh gateway per input, so that inputs do not depend on each other:
// a copy of the one the fixture was written to once.
struct Gateway {
  MemoryBackend backend;
  std::uint64_t state = 7;
  FhirService service{backend, [this] { return mhr::splitmix64(state); }, ServiceLimits{64}};
  std::string patient, practitioner, observation;

  Gateway() = default;
  // The service is made anew: it refers to this gateway's backend and state.
  Gateway(const Gateway& o)
      : backend(o.backend),
        state(o.state),
        patient(o.patient),
        practitioner(o.practitioner),
        observation(o.observation) {}
  Gateway& operator=(const Gateway&) = delete;

  FhirResponse send(const std::string& method, const std::string& url, const std::string& body,
                    const Identity& who = kInstitution) {
    auto [path, params] = split_url(url);
    return service.handle({method, path, params, body, "", kBase}, who);
  }
};

// The fixture: a patient, a Practitioner whose identifier names dr-outside,
// and an Observation that names both.
const Gateway& prototype() {
  static const Gateway made = [] {
    Gateway g;
    FhirResponse p = g.send("POST", "Patient", R"({"resourceType":"Patient","gender":"other"})");
    FUZZ_CHECK(p.status == 201);
    g.patient = p.body["id"];
    const Json bundle = {
        {"resourceType", "Bundle"},
        {"type", "transaction"},
        {"entry", Json::array({{{"fullUrl", "urn:uuid:pr"},
                                {"resource",
                                 {{"resourceType", "Practitioner"},
                                  {"identifier", Json::array({{{"system", kApiKeyActorSystem},
                                                               {"value", "dr-outside"}}})}}},
                                {"request", {{"method", "POST"}, {"url", "Practitioner"}}}},
                               {{"resource",
                                 {{"resourceType", "Observation"},
                                  {"status", "final"},
                                  {"subject", {{"reference", "Patient/" + g.patient}}},
                                  {"effectiveDateTime", "2021-03-04"},
                                  {"performer", Json::array({{{"reference", "urn:uuid:pr"}}})}}},
                                {"request", {{"method", "POST"}, {"url", "Observation"}}}}})}};
    FhirResponse b = g.send("POST", "", bundle.dump());
    FUZZ_CHECK(b.status == 200);
    const std::string pr = b.body["entry"][0]["response"]["location"];
    const std::string ob = b.body["entry"][1]["response"]["location"];
    g.practitioner = pr.substr(pr.find('/') + 1, kMaxIdLength);
    g.observation = ob.substr(ob.find('/') + 1, kMaxIdLength);
    return g;
  }();
  return made;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

std::vector<std::string> split_requests(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (out.size() < kMaxRequests) {
    const std::size_t sep = text.find("\n---\n", start);
    out.push_back(text.substr(start, sep == std::string::npos ? sep : sep - start));
    if (sep == std::string::npos) break;
    start = sep + 5;
  }
  return out;
}

bool known_status(int s) {
  for (int k : {200, 201, 400, 403, 404, 405, 412, 413, 422})
    if (s == k) return true;
  return false;
}

// Every answer is a FHIR resource; every error an OperationOutcome.
void check_answer(const FhirResponse& r) {
  FUZZ_CHECK(known_status(r.status));
  FUZZ_CHECK(r.body.is_object());
  FUZZ_CHECK(r.body.contains("resourceType") && r.body["resourceType"].is_string());
  if (r.status >= 400) {
    FUZZ_CHECK(r.body["resourceType"] == "OperationOutcome");
    FUZZ_CHECK(r.body.contains("issue") && r.body["issue"].is_array() && !r.body["issue"].empty());
  }
  // What the HTTP binding sends (it replaces bytes that are not UTF-8).
  FUZZ_CHECK(!r.body.dump(-1, ' ', false, Json::error_handler_t::replace).empty());
}

std::string without_base(std::string url) {
  return url.starts_with(kBase + "/") ? url.substr(kBase.size() + 1) : url;
}

// Every current resource of the patient, by "Type/id" (one read: a
// Bundle's entries are checked against it, not read one by one).
std::set<std::string> everything(Gateway& g, const UserId& user) {
  FhirResponse all = g.send("GET", "Patient/" + patient_id(user) + "/$everything?_count=1000", "");
  FUZZ_CHECK(all.status == 200);
  std::set<std::string> out;
  for (const Json& e : all.body.value("entry", Json::array()))
    out.insert(e["resource"]["resourceType"].get<std::string>() + "/" +
               e["resource"]["id"].get<std::string>());
  return out;
}

void check_written(Gateway& g, const std::string& method, const FhirResponse& r) {
  if (method != "POST" && method != "PUT") return;
  if (r.status == 201 || (r.status == 200 && method == "PUT")) {
    // Reads back equal at the version its Location names.
    FUZZ_CHECK(!r.location.empty());
    FhirResponse v = g.send("GET", without_base(r.location), "");
    FUZZ_CHECK(v.status == 200);
    FUZZ_CHECK(v.body == r.body);
    return;
  }
  if (r.status != 200 || !r.body.contains("entry")) return;  // not a Bundle's answer
  const std::string type = r.body.value("type", "");
  FUZZ_CHECK(type == "transaction-response" || type == "batch-response");
  std::map<UserId, std::vector<std::string>> written;  // by patient: "Type/id"
  for (const Json& e : r.body["entry"]) {
    const std::string status = e["response"]["status"];
    FUZZ_CHECK(status.size() >= 3);
    if (!e.contains("fullUrl")) continue;  // a written entry has one
    FUZZ_CHECK(status.starts_with("201") || status.starts_with("200"));
    const std::string location = e["response"]["location"];
    const std::string name = location.substr(0, location.find("/_history"));
    const std::size_t slash = name.find('/');
    FUZZ_CHECK(slash != std::string::npos);
    const std::string id = name.substr(slash + 1);
    auto user = name.starts_with("Patient/") ? user_of_patient_id(id) : user_of_resource_id(id);
    FUZZ_CHECK(user.has_value());
    written[*user].push_back(name);
  }
  for (const auto& [user, names] : written) {
    const std::set<std::string> held = everything(g, user);
    for (const std::string& name : names) FUZZ_CHECK(held.contains(name));
  }
}

// Everything the backend holds: registrations, records and patients' acts.
std::size_t writes_held(const MemoryBackend& b) {
  std::size_t n = b.registered.size() + b.acts.size();
  for (const auto& [user, chain] : b.chains) n += chain.size();
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool trace = std::getenv("MHR_FUZZ_TRACE") != nullptr;
  Gateway g(prototype());
  std::string text(reinterpret_cast<const char*>(data), size);
  replace_all(text, "{patient}", g.patient);
  replace_all(text, "{practitioner}", g.practitioner);
  replace_all(text, "{observation}", g.observation);
  for (const std::string& request : split_requests(text)) {
    const std::size_t nl = request.find('\n');
    std::string line = request.substr(0, nl);
    const std::string body = nl == std::string::npos ? "" : request.substr(nl + 1);
    const bool external = line.starts_with("!");
    if (external) line.erase(0, 1);
    const std::size_t space = line.find(' ');
    const std::string method = line.substr(0, space);
    const std::string url = space == std::string::npos ? "" : line.substr(space + 1);
    const std::size_t held = writes_held(g.backend);
    const FhirResponse r = g.send(method, url, body, external ? kExternal : kInstitution);
    if (trace)
      std::fprintf(stderr, "%s %s -> %d %s\n", method.c_str(), url.substr(0, 80).c_str(), r.status,
                   r.body.value("resourceType", "") == "OperationOutcome"
                       ? r.body["issue"][0].value("diagnostics", "").substr(0, 300).c_str()
                       : "");
    check_answer(r);
    if (external)
      FUZZ_CHECK(writes_held(g.backend) == held);  // an external identity writes nothing
    check_written(g, method, r);
  }
  // Nothing written made a timeline unreadable.
  std::size_t checked = 0;
  for (const UserId& u : g.backend.registered) {
    if (++checked > kMaxPatientsChecked) break;
    everything(g, u);
  }
  return 0;
}
