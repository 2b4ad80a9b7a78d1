// FhirService: the gateway's sans-I/O core. Takes a parsed HTTP request and
// the caller's identity, answers a FHIR response; everything it knows of
// the chain comes through a FhirBackend. The HTTP binding (http_server.hpp)
// and the unit tests drive it the same way.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "edge_node/fhir/backend.hpp"
#include "edge_node/fhir/consent_mapping.hpp"
#include "edge_node/fhir/router.hpp"
#include "edge_node/fhir/timeline.hpp"

namespace mhr::fhir {

struct FhirRequest {
  std::string method;  // GET, POST, PUT, DELETE
  std::string path;    // below the base: "", "metadata", "Observation/abc/_history"
  Params params;       // decoded query parameters, in order
  std::string body;
  std::string if_match;  // the If-Match header, or empty
  std::string base_url;  // e.g. "https://fhir.hospital-a.example/fhir", for fullUrl and links
};

struct FhirResponse {
  int status = 200;
  Json body;
  std::string location;  // Location header (201) or Content-Location
  std::string etag;      // W/"<versionId>"
  std::string allow;     // Allow header of a 405
};

// The resources a Bundle is writing, by "Type/id" (references rewritten),
// so that a Consent in it can name a party of the same Bundle.
using BundleResources = std::map<std::string, const Json*, std::less<>>;

struct ServiceLimits {
  std::size_t max_bundle_entries = 5000;
};

class FhirService {
 public:
  // `random` draws the unique parts of new ids and new patients' UserIds.
  FhirService(FhirBackend& backend, std::function<std::uint64_t()> random, ServiceLimits limits);

  // Thread-safe: reads run concurrently; writes are serialised so that a
  // PUT always supersedes the version that is current when it is written.
  FhirResponse handle(const FhirRequest& request, const Identity& who);

 private:
  FhirResponse dispatch(const Route& route, const FhirRequest& req, const Identity& who);
  FhirResponse create(const Create& c, const FhirRequest& req, const Identity& who);
  FhirResponse read(const Read& r, const FhirRequest& req, const Identity& who);
  FhirResponse vread(const VRead& r, const FhirRequest& req, const Identity& who);
  FhirResponse update(const Update& u, const FhirRequest& req, const Identity& who);
  FhirResponse history(const History& h, const FhirRequest& req, const Identity& who);
  FhirResponse search(const Search& s, const FhirRequest& req, const Identity& who);
  FhirResponse everything(const Everything& e, const FhirRequest& req, const Identity& who);
  FhirResponse bundle(const FhirRequest& req, const Identity& who);  // bundle.cpp

  // Consent resources (consent_service.cpp): the patient's acts a Consent
  // asks for, signed; sets the grant notes in its meta. `superseded` is the
  // version a PUT replaces; `bundle` the resources of the Bundle it comes
  // in, if any, where its actors' references are looked up first.
  Result<std::vector<PatientStatement>, FhirError> consent_acts(const Identity& who,
                                                                const UserId& user, Json& consent,
                                                                const Json* superseded,
                                                                const std::string& base_url,
                                                                const BundleResources& bundle = {});
  // The party a Consent actor names: its identifier, or the identifiers of
  // the resource its reference names (in `bundle`, or on the patient's
  // timeline, loaded into `timeline` when first needed). 422 otherwise.
  Result<Grantee, FhirError> consent_grantee(const Identity& who, const UserId& user,
                                             const ConsentActor& actor, const std::string& base_url,
                                             const BundleResources& bundle,
                                             std::optional<Timeline>& timeline);
  // Sends the revocations (grants = false) or the grants among `acts`;
  // an error's diagnostics end with `note`.
  std::optional<FhirError> send_consent_acts(const Identity& who,
                                             std::span<const PatientStatement> acts, bool grants,
                                             const std::string& note);
  // Writes a resource (a Consent with its acts: revocations before, grants
  // after the record) and answers it.
  FhirResponse write_resource(const Identity& who, NewRecord record, Json& resource,
                              const Json* superseded, int status, const std::string& base_url);

  // The patient's timeline; 404 when the patient is not registered here.
  Result<Timeline, FhirError> load(const Identity& who, const UserId& user);
  // The resource's history: found by type and id (404 otherwise).
  Result<Timeline, FhirError> load_resource(const Identity& who, std::string_view type,
                                            std::string_view id);
  // Writes one record and returns it as committed (with its position).
  Result<ChainRecord, FhirError> write_one(const Identity& who, NewRecord record);
  UserId new_user();
  std::uint64_t random() { return random_(); }

  FhirBackend& backend_;
  std::function<std::uint64_t()> random_;
  ServiceLimits limits_;
  std::mutex write_mutex_;  // held by every write; random_ is drawn under it
};

// What a response says of a resource written or read: the Location of its
// version, its ETag, and the resource as served.
FhirResponse resource_response(int status, const ChainRecord& record, const Json& resource,
                               const std::string& base_url);
// Whether an If-Match value (W/"0.5" or "0.5") names `current`'s version.
bool etag_matches(std::string_view if_match, const ChainRecord& current);
// The refusal of a write by an external identity.
FhirError external_writes(const Identity& who);
// A backend refusal as a FHIR error.
FhirError backend_error(BackendStatus status, const std::string& detail, const std::string& what);

}  // namespace mhr::fhir
