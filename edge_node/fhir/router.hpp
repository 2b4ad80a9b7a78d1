// Routing: an HTTP method, a path below /fhir and its query parameters to
// one FHIR interaction. Used for requests and for the entries of a Bundle
// (whose request.url is the same path, relative).
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/result.hpp"
#include "edge_node/fhir/outcome.hpp"

namespace mhr::fhir {

using Params = std::vector<std::pair<std::string, std::string>>;  // decoded, in order

struct Metadata {};
struct Transaction {};  // POST /fhir with a Bundle
struct Create {
  std::string type;
};  // POST /fhir/{type}
struct Read {
  std::string type, id;
};
struct VRead {
  std::string type, id, version;
};
struct Update {
  std::string type, id;
};
struct Delete {
  std::string type, id;
};
struct History {
  std::string type, id;
};
struct Search {
  std::string type;
};  // GET /fhir/{type}?...
struct Everything {
  std::string id;
};  // GET /fhir/Patient/{id}/$everything

using Route = std::variant<Metadata, Transaction, Create, Read, VRead, Update, Delete, History,
                           Search, Everything>;

// `path` is below the base, without it: "" , "metadata", "Observation/abc".
// Unknown types give 404, malformed ids 400, wrong methods 405.
Result<Route, FhirError> route(std::string_view method, std::string_view path);

// Splits "Observation?patient=x&date=ge2020" into path and decoded params.
std::pair<std::string, Params> split_url(std::string_view url);

// Percent-decoding of a query component ('+' is a space).
std::string url_decode(std::string_view s);
std::string url_encode(std::string_view s);

}  // namespace mhr::fhir
