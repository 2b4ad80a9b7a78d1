// FHIR dates as ranges and the `date` search comparisons.
#include <doctest/doctest.h>

#include "edge_node/fhir/dates.hpp"

using namespace mhr::fhir;

namespace {
constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t k2020 = 1'577'836'800'000;  // 2020-01-01T00:00:00Z
}  // namespace

TEST_CASE("a date stands for the span of its precision") {
  CHECK(parse_date_range("2020") == DateRange{k2020, k2020 + 366 * kDay});
  CHECK(parse_date_range("2020-02") == DateRange{k2020 + 31 * kDay, k2020 + 60 * kDay});
  CHECK(parse_date_range("2020-01-02") == DateRange{k2020 + kDay, k2020 + 2 * kDay});
  CHECK(parse_date_range("2020-01-01T00:00:00Z") == DateRange{k2020, k2020 + 1000});
  CHECK(parse_date_range("2020-01-01T00:00Z") == DateRange{k2020, k2020 + 60'000});
  CHECK(parse_date_range("2020-01-01T00:00:00.250Z") == DateRange{k2020 + 250, k2020 + 251});
  CHECK(parse_date_range("2020-01-01T00:00:00-05:00") ==
        DateRange{k2020 + 5 * 3'600'000, k2020 + 5 * 3'600'000 + 1000});
  CHECK(parse_date_range("1969-12-31")->begin_ms == -kDay);
}

TEST_CASE("malformed dates are refused") {
  for (const char* bad : {"", "20", "2020-13", "2020-02-30", "2020-1-1", "2020-01-01T25:00Z",
                          "2020-01-01T10", "2020-01-01T10:00:00+5", "2020-01-01x", "yesterday"})
    CHECK_MESSAGE(!parse_date_range(bad), bad);
  CHECK(parse_date_range("2024-02-29"));
  CHECK_FALSE(parse_date_range("2023-02-29"));
}

TEST_CASE("date filters compare ranges as FHIR search does") {
  std::string why;
  auto f = [&](const char* s) {
    auto r = parse_date_filter(s, why);
    REQUIRE_MESSAGE(r, why);
    return *r;
  };
  const DateRange jan2 = *parse_date_range("2020-01-02");
  const DateRange new_year_eve = *parse_date_range("2019-12-31T23:00:00Z");
  CHECK(date_matches(f("2020-01-02"), jan2));
  CHECK(date_matches(f("eq2020"), jan2));
  CHECK_FALSE(date_matches(f("eq2020-01-03"), jan2));
  CHECK(date_matches(f("ne2020-01-03"), jan2));
  CHECK(date_matches(f("ge2020-01-01"), jan2));
  CHECK(date_matches(f("ge2020-01-02"), jan2));
  CHECK_FALSE(date_matches(f("ge2020-01-03"), jan2));
  CHECK(date_matches(f("gt2020-01-01"), jan2));
  CHECK_FALSE(date_matches(f("gt2020-01-02"), jan2));
  CHECK(date_matches(f("le2020-01-02"), jan2));
  CHECK_FALSE(date_matches(f("lt2020-01-02"), jan2));
  CHECK(date_matches(f("lt2020"), new_year_eve));
  CHECK(date_matches(f("sa2019"), jan2));
  CHECK(date_matches(f("eb2021"), jan2));
  CHECK_FALSE(parse_date_filter("xx2020", why));
  CHECK(why.find("prefix") != std::string::npos);
  CHECK_FALSE(parse_date_filter("ge20", why));
}

TEST_CASE("element dates: choice types and periods") {
  Json obs = {{"effectiveDateTime", "2020-01-02"}};
  CHECK(element_date_range(obs, "effective") == parse_date_range("2020-01-02"));
  Json enc = {{"period", {{"start", "2020-01-02"}}}};
  auto open = element_date_range(enc, "period");
  REQUIRE(open);
  CHECK(open->begin_ms == k2020 + kDay);
  CHECK(open->end_ms > k2020 + 1000 * 366 * kDay);
  Json proc = {{"performedPeriod", {{"start", "2020-01-02"}, {"end", "2020-01-01"}}}};
  CHECK_FALSE(element_date_range(proc, "performed"));  // ends before it starts
  CHECK_FALSE(element_date_range(Json{{"x", 1}}, "effective"));
}

TEST_CASE("instants are formatted in UTC with milliseconds") {
  CHECK(format_instant(k2020 + 1234) == "2020-01-01T00:00:01.234Z");
  CHECK(format_instant(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_instant(-1) == "1969-12-31T23:59:59.999Z");
}
