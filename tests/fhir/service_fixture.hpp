// A FhirService over a MemoryBackend with seeded ids, and shorthands to
// send it requests as the HTTP binding would.
#pragma once

#include "common/sim/rng.hpp"
#include "edge_node/fhir/router.hpp"
#include "edge_node/fhir/service.hpp"
#include "tests/fhir/memory_backend.hpp"

namespace mhr::fhir::test {

struct ServiceFixture {
  MemoryBackend backend;
  std::uint64_t state = 42;
  FhirService service{backend, [this] { return mhr::splitmix64(state); }, ServiceLimits{600}};
  Identity who{"dr-test", "clinician"};

  FhirResponse send(const std::string& method, const std::string& url, const std::string& body = "",
                    const std::string& if_match = "") {
    auto [path, params] = split_url(url);
    return service.handle({method, path, params, body, if_match, "http://fhir.test/fhir"}, who);
  }
  FhirResponse send(const std::string& method, const std::string& url, const Json& body) {
    return send(method, url, body.dump());
  }
  // Creates a patient and returns its id.
  std::string new_patient() {
    FhirResponse r =
        send("POST", "Patient", Json{{"resourceType", "Patient"}, {"gender", "other"}});
    REQUIRE(r.status == 201);
    return r.body["id"];
  }
};

}  // namespace mhr::fhir::test
