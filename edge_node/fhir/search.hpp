// Search within one patient's timeline: by type, `date` ranges and, for
// $everything, a list of types; `_count` paging with `_offset` links. The
// gateway keeps no index across patients, so a search names its patient.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "edge_node/fhir/dates.hpp"
#include "edge_node/fhir/router.hpp"
#include "edge_node/fhir/timeline.hpp"

namespace mhr::fhir {

inline constexpr std::size_t kDefaultPageSize = 50;
inline constexpr std::size_t kMaxPageSize = 1000;
inline constexpr std::size_t kMaxDateFilters = 8;

struct SearchQuery {
  std::optional<UserId> patient;  // patient= / subject= / _id= on Patient / $everything's id
  std::vector<DateFilter> dates;  // all must match
  std::optional<std::set<std::string, std::less<>>> types;  // $everything's _type
  bool keep_undated = false;  // $everything: start/end do not drop undated resources
  std::size_t count = kDefaultPageSize;
  std::size_t offset = 0;
};

// `type` is the searched type (empty for $everything). Unknown parameters
// are refused (400) rather than ignored: a filter silently dropped would
// hand out more of a patient's records than were asked for.
Result<SearchQuery, FhirError> parse_search(const Params& params, std::string_view type);
Result<SearchQuery, FhirError> parse_everything(const Params& params, const UserId& patient);

// The current resources of the timeline that match, in timeline order.
std::vector<const ResourceHistory*> select(const Timeline& timeline, const SearchQuery& query,
                                           std::string_view type);

// A searchset Bundle holding one page of `matches`, with total and
// self/next/previous links (`path` is below base, e.g. "Observation").
Json searchset(const std::vector<const ResourceHistory*>& matches, const SearchQuery& query,
               const std::string& base_url, const std::string& path, const Params& params);

}  // namespace mhr::fhir
