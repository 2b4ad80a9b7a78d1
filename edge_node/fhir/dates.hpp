// FHIR dates as ranges, and the `date` search parameter's comparisons.
// A date, dateTime or instant stands for the whole span its precision
// covers ("2020" is all of 2020), as FHIR search prescribes.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "edge_node/fhir/outcome.hpp"

namespace mhr::fhir {

// [begin_ms, end_ms): milliseconds since the Unix epoch, UTC.
struct DateRange {
  std::int64_t begin_ms = 0;
  std::int64_t end_ms = 0;
  bool operator==(const DateRange&) const = default;
};

// YYYY, YYYY-MM, YYYY-MM-DD, or YYYY-MM-DDThh:mm[:ss[.fff]](Z|+hh:mm|-hh:mm).
// A time without a zone is taken as UTC. nullopt when malformed.
std::optional<DateRange> parse_date_range(std::string_view text);

// The date of a resource's element: a date string, or a Period (open ends
// reach to the start or end of time). nullopt when the element is absent or
// unreadable.
std::optional<DateRange> element_date_range(const Json& resource, std::string_view stem);

enum class DatePrefix { kEq, kNe, kGt, kLt, kGe, kLe, kSa, kEb };

struct DateFilter {
  DatePrefix prefix = DatePrefix::kEq;
  DateRange range;
};

// "ge2020-01-01" and friends; an error names what is wrong.
std::optional<DateFilter> parse_date_filter(std::string_view value, std::string& why);

// Whether a resource whose date spans `target` matches the filter:
// eq: the search range contains the target; gt/ge: the target reaches
// past the end / the start of the search range; lt/le likewise before the
// start / the end; sa: starts after the end; eb: ends before the start.
bool date_matches(const DateFilter& filter, const DateRange& target);

// Milliseconds since the epoch as an instant "2020-01-02T03:04:05.678Z".
std::string format_instant(std::int64_t ms);

}  // namespace mhr::fhir
