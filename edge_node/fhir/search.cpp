// Search parameters, filtering and searchset Bundles with paging links.
#include "edge_node/fhir/search.hpp"

#include <charconv>

#include "edge_node/fhir/ids.hpp"
#include "edge_node/fhir/resource_record.hpp"
#include "edge_node/fhir/resource_types.hpp"

namespace mhr::fhir {

namespace {

std::optional<std::size_t> parse_size(std::string_view s, std::size_t max) {
  std::size_t v = 0;
  if (s.empty() || s.size() > 12) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

// Common parameters: _count, _offset, _format. True when `name` was one.
Result<bool, FhirError> paging_param(const std::string& name, const std::string& value,
                                     SearchQuery& q) {
  if (name == "_count") {
    auto v = parse_size(value, kMaxPageSize);
    if (!v)
      return err(bad_request("_count must be a number from 0 to " + std::to_string(kMaxPageSize)));
    q.count = *v;
    return true;
  }
  if (name == "_offset") {
    auto v = parse_size(value, 1'000'000'000);
    if (!v) return err(bad_request("_offset must be a non-negative number"));
    q.offset = *v;
    return true;
  }
  if (name == "_format") {
    if (value.find("json") == std::string::npos)
      return err(bad_request("this server speaks FHIR JSON only (_format=json)"));
    return true;
  }
  return false;
}

Result<Unit, FhirError> add_date(const std::string& value, SearchQuery& q) {
  if (q.dates.size() >= kMaxDateFilters)
    return err(bad_request("at most " + std::to_string(kMaxDateFilters) + " date filters"));
  std::string why;
  auto f = parse_date_filter(value, why);
  if (!f) return err(bad_request(why));
  q.dates.push_back(*f);
  return Unit{};
}

std::optional<DateRange> resource_date(const Json& resource, const ResourceType& type) {
  for (std::string_view stem : type.date_elements) {
    if (stem.empty()) break;
    if (auto r = element_date_range(resource, stem)) return r;
  }
  return std::nullopt;
}

}  // namespace

Result<SearchQuery, FhirError> parse_search(const Params& params, std::string_view type) {
  SearchQuery q;
  const ResourceType* t = find_resource_type(type);
  MHR_ASSERT(t != nullptr);
  for (const auto& [name, value] : params) {
    auto paging = paging_param(name, value, q);
    if (!paging) return err(paging.error());
    if (*paging) continue;
    if (name == "patient" || name == "subject" || (name == "_id" && type == "Patient")) {
      std::optional<UserId> user =
          name == "_id" ? user_of_patient_id(value) : user_of_patient_reference(value);
      if (!user && name == "patient") user = user_of_patient_id(value);
      if (!user)
        return err(bad_request(name + "='" + value +
                               "' names no patient (Patient/<64 hex digits> or the id alone)"));
      if (q.patient && *q.patient != *user) return err(bad_request("a search names one patient"));
      q.patient = user;
    } else if (name == "date" && !t->date_elements[0].empty()) {
      auto added = add_date(value, q);
      if (!added) return err(added.error());
    } else {
      std::string supported = type == "Patient" ? "_id" : "patient, subject";
      if (!t->date_elements[0].empty()) supported += ", date";
      return err(bad_request("unsupported search parameter '" + name + "' on " + std::string(type) +
                             " (supported: " + supported + ", _count, _offset)"));
    }
  }
  if (!q.patient)
    return err(bad_request(
        "a search names its patient (patient=Patient/<id>): records are stored per patient, "
        "and this server keeps no index across patients"));
  return q;
}

Result<SearchQuery, FhirError> parse_everything(const Params& params, const UserId& patient) {
  SearchQuery q;
  q.patient = patient;
  q.keep_undated = true;
  for (const auto& [name, value] : params) {
    auto paging = paging_param(name, value, q);
    if (!paging) return err(paging.error());
    if (*paging) continue;
    if (name == "_type") {
      std::set<std::string, std::less<>> types;
      std::string_view rest = value;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string one(rest.substr(0, comma));
        if (!find_resource_type(one)) return err(bad_request("_type: unknown type '" + one + "'"));
        types.insert(std::move(one));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      q.types = std::move(types);
    } else if (name == "start" || name == "end") {
      auto added = add_date((name == "start" ? "ge" : "le") + value, q);
      if (!added) return err(added.error());
    } else {
      return err(bad_request("unsupported $everything parameter '" + name +
                             "' (supported: start, end, _type, _count, _offset)"));
    }
  }
  return q;
}

std::vector<const ResourceHistory*> select(const Timeline& timeline, const SearchQuery& q,
                                           std::string_view type) {
  std::vector<const ResourceHistory*> out;
  for (const ResourceHistory* h : timeline.resources()) {
    if (!type.empty() && h->type != type) continue;
    if (q.types && !q.types->contains(h->type)) continue;
    if (!q.dates.empty()) {
      const ResourceType* t = find_resource_type(h->type);
      MHR_ASSERT(t != nullptr);
      auto date = resource_date(h->current().resource, *t);
      if (!date) {
        if (!q.keep_undated) continue;
      } else {
        bool all = true;
        for (const DateFilter& f : q.dates) all = all && date_matches(f, *date);
        if (!all) continue;
      }
    }
    out.push_back(h);
  }
  return out;
}

Json searchset(const std::vector<const ResourceHistory*>& matches, const SearchQuery& q,
               const std::string& base_url, const std::string& path, const Params& params) {
  auto link = [&](std::size_t offset) {
    std::string url = base_url + "/" + path;
    char sep = '?';
    for (const auto& [name, value] : params) {
      if (name == "_offset" || name == "_count") continue;
      url += sep + url_encode(name) + "=" + url_encode(value);
      sep = '&';
    }
    url += sep + std::string("_count=") + std::to_string(q.count) +
           "&_offset=" + std::to_string(offset);
    return url;
  };
  Json bundle = {{"resourceType", "Bundle"}, {"type", "searchset"}, {"total", matches.size()}};
  Json links = Json::array({{{"relation", "self"}, {"url", link(q.offset)}}});
  if (q.count > 0 && q.offset + q.count < matches.size())
    links.push_back({{"relation", "next"}, {"url", link(q.offset + q.count)}});
  if (q.offset > 0 && q.count > 0)
    links.push_back(
        {{"relation", "previous"}, {"url", link(q.offset > q.count ? q.offset - q.count : 0)}});
  bundle["link"] = std::move(links);
  Json entries = Json::array();
  for (std::size_t i = q.offset; i < matches.size() && i < q.offset + q.count; ++i) {
    const Version& v = matches[i]->current();
    entries.push_back({{"fullUrl", base_url + "/" + matches[i]->type + "/" + matches[i]->id},
                       {"resource", presented(v.record, v.resource)},
                       {"search", {{"mode", "match"}}}});
  }
  if (!entries.empty()) bundle["entry"] = std::move(entries);
  return bundle;
}

}  // namespace mhr::fhir
