// Parsing FHIR dates into ranges, and the search comparisons on them.
#include "edge_node/fhir/dates.hpp"

#include <cctype>
#include <cstdio>
#include <limits>

namespace mhr::fhir {

namespace {

constexpr std::int64_t kMsPerDay = 86'400'000;
constexpr std::int64_t kMinMs = std::numeric_limits<std::int64_t>::min() / 2;
constexpr std::int64_t kMaxMs = std::numeric_limits<std::int64_t>::max() / 2;

// Howard Hinnant's days_from_civil: days since 1970-01-01.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// Reads exactly n digits at s[pos]; advances pos.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

}  // namespace

std::optional<DateRange> parse_date_range(std::string_view s) {
  std::size_t pos = 0;
  int year = 0, month = 1, day = 1;
  if (!digits(s, pos, 4, year)) return std::nullopt;
  if (pos == s.size()) {
    return DateRange{days_from_civil(year, 1, 1) * kMsPerDay,
                     days_from_civil(year + 1, 1, 1) * kMsPerDay};
  }
  if (s[pos++] != '-' || !digits(s, pos, 2, month) || month < 1 || month > 12) return std::nullopt;
  if (pos == s.size()) {
    const int ny = month == 12 ? year + 1 : year;
    const unsigned nm = month == 12 ? 1u : static_cast<unsigned>(month) + 1;
    return DateRange{days_from_civil(year, static_cast<unsigned>(month), 1) * kMsPerDay,
                     days_from_civil(ny, nm, 1) * kMsPerDay};
  }
  if (s[pos++] != '-' || !digits(s, pos, 2, day) || day < 1 ||
      static_cast<unsigned>(day) > days_in_month(year, static_cast<unsigned>(month)))
    return std::nullopt;
  const std::int64_t day_ms =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * kMsPerDay;
  if (pos == s.size()) return DateRange{day_ms, day_ms + kMsPerDay};

  int hour = 0, minute = 0, second = 0;
  if (s[pos++] != 'T' || !digits(s, pos, 2, hour) || hour > 23) return std::nullopt;
  if (pos >= s.size() || s[pos++] != ':' || !digits(s, pos, 2, minute) || minute > 59)
    return std::nullopt;
  std::int64_t precision_ms = 60'000;
  int millis = 0;
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!digits(s, pos, 2, second) || second > 60) return std::nullopt;
    precision_ms = 1000;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      std::size_t start = pos;
      int scale = 100;
      while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
        if (pos - start < 3) millis += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
      if (pos == start || pos - start > 9) return std::nullopt;
      precision_ms = 1;
    }
  }
  std::int64_t offset_ms = 0;
  if (pos < s.size()) {
    char z = s[pos++];
    if (z == 'Z') {
      // UTC
    } else if (z == '+' || z == '-') {
      int oh = 0, om = 0;
      if (!digits(s, pos, 2, oh) || pos >= s.size() || s[pos++] != ':' || !digits(s, pos, 2, om) ||
          oh > 14 || om > 59)
        return std::nullopt;
      offset_ms = (oh * 60 + om) * 60'000LL * (z == '+' ? 1 : -1);
    } else {
      return std::nullopt;
    }
  }
  if (pos != s.size()) return std::nullopt;
  const std::int64_t begin =
      day_ms + ((hour * 60 + minute) * 60 + second) * 1000LL + millis - offset_ms;
  return DateRange{begin, begin + precision_ms};
}

std::optional<DateRange> element_date_range(const Json& resource, std::string_view stem) {
  if (!resource.is_object()) return std::nullopt;
  auto from_value = [](const Json& v) -> std::optional<DateRange> {
    if (v.is_string()) return parse_date_range(v.get_ref<const std::string&>());
    if (v.is_object() && (v.contains("start") || v.contains("end"))) {  // a Period
      DateRange r{kMinMs, kMaxMs};
      if (auto s = v.find("start"); s != v.end()) {
        if (!s->is_string()) return std::nullopt;
        auto p = parse_date_range(s->get_ref<const std::string&>());
        if (!p) return std::nullopt;
        r.begin_ms = p->begin_ms;
      }
      if (auto e = v.find("end"); e != v.end()) {
        if (!e->is_string()) return std::nullopt;
        auto p = parse_date_range(e->get_ref<const std::string&>());
        if (!p) return std::nullopt;
        r.end_ms = p->end_ms;
      }
      if (r.end_ms <= r.begin_ms) return std::nullopt;
      return r;
    }
    return std::nullopt;
  };
  const std::string key(stem);
  if (auto it = resource.find(key); it != resource.end()) return from_value(*it);
  for (const char* suffix : {"DateTime", "Period", "Instant", "Date"})
    if (auto it = resource.find(key + suffix); it != resource.end()) return from_value(*it);
  return std::nullopt;
}

std::optional<DateFilter> parse_date_filter(std::string_view value, std::string& why) {
  static constexpr std::pair<std::string_view, DatePrefix> kPrefixes[] = {
      {"eq", DatePrefix::kEq}, {"ne", DatePrefix::kNe}, {"gt", DatePrefix::kGt},
      {"lt", DatePrefix::kLt}, {"ge", DatePrefix::kGe}, {"le", DatePrefix::kLe},
      {"sa", DatePrefix::kSa}, {"eb", DatePrefix::kEb}};
  DateFilter f;
  if (value.size() >= 2 && std::isalpha(static_cast<unsigned char>(value[0]))) {
    bool known = false;
    for (const auto& [name, prefix] : kPrefixes)
      if (value.starts_with(name)) {
        f.prefix = prefix;
        known = true;
      }
    if (!known) {
      why = "unsupported date prefix in '" + std::string(value) +
            "' (supported: eq, ne, gt, lt, ge, le, sa, eb)";
      return std::nullopt;
    }
    value.remove_prefix(2);
  }
  auto r = parse_date_range(value);
  if (!r) {
    why = "'" + std::string(value) + "' is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or dateTime)";
    return std::nullopt;
  }
  f.range = *r;
  return f;
}

bool date_matches(const DateFilter& f, const DateRange& t) {
  const DateRange& s = f.range;
  const bool contained = s.begin_ms <= t.begin_ms && t.end_ms <= s.end_ms;
  switch (f.prefix) {
    case DatePrefix::kEq:
      return contained;
    case DatePrefix::kNe:
      return !contained;
    case DatePrefix::kGt:
      return t.end_ms > s.end_ms;
    case DatePrefix::kGe:
      return t.end_ms > s.begin_ms;
    case DatePrefix::kLt:
      return t.begin_ms < s.begin_ms;
    case DatePrefix::kLe:
      return t.begin_ms < s.end_ms;
    case DatePrefix::kSa:
      return t.begin_ms >= s.end_ms;
    case DatePrefix::kEb:
      return t.end_ms <= s.begin_ms;
  }
  return false;
}

std::string format_instant(std::int64_t ms) {
  std::int64_t days = ms >= 0 ? ms / kMsPerDay : -((-ms + kMsPerDay - 1) / kMsPerDay);
  std::int64_t rest = ms - days * kMsPerDay;
  std::int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  char buf[96];  // sized for any 64-bit year, to satisfy -Wformat-truncation
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), m, d, static_cast<long long>(rest / 3'600'000),
                static_cast<long long>(rest / 60'000 % 60),
                static_cast<long long>(rest / 1000 % 60), static_cast<long long>(rest % 1000));
  return buf;
}

}  // namespace mhr::fhir
