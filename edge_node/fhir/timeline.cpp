// Grouping a patient's records into resources and versions.
#include "edge_node/fhir/timeline.hpp"

#include <algorithm>
#include <set>

#include "edge_node/fhir/resource_types.hpp"

namespace mhr::fhir {

namespace {

bool earlier(const ChainRecord& a, const ChainRecord& b) {
  return std::tie(a.created_at_us, a.network, a.sequence) <
         std::tie(b.created_at_us, b.network, b.sequence);
}

}  // namespace

Timeline::Timeline(std::vector<ChainRecord> records) {
  std::sort(records.begin(), records.end(), earlier);
  std::set<Hash> superseded;
  for (const ChainRecord& r : records)
    if (r.supersedes) superseded.insert(*r.supersedes);

  for (ChainRecord& r : records) {
    if (!find_resource_type(r.content_type)) continue;
    Json resource = Json::parse(r.payload, nullptr, /*allow_exceptions=*/false);
    if (!resource.is_object()) continue;
    auto type = resource.find("resourceType");
    auto id = resource.find("id");
    if (type == resource.end() || id == resource.end() || !id->is_string() ||
        *type != r.content_type)
      continue;
    auto [it, fresh] = by_key_.try_emplace(r.content_type + "/" + id->get<std::string>());
    if (fresh) {
      it->second.type = r.content_type;
      it->second.id = id->get<std::string>();
      order_.push_back(&it->second);
    }
    it->second.versions.push_back({std::move(r), std::move(resource)});
  }
  // The current version is the one nothing supersedes; with several (two
  // writers raced), the latest of them. Moved last, the rest stay in order.
  for (auto& [key, history] : by_key_) {
    auto& v = history.versions;
    auto head = std::find_if(v.rbegin(), v.rend(),
                             [&](const Version& x) { return !superseded.contains(x.record.hash); });
    if (head != v.rend() && head != v.rbegin()) {
      Version h = std::move(*head);
      v.erase(std::next(head).base());
      v.push_back(std::move(h));
    }
  }
}

const ResourceHistory* Timeline::find(std::string_view type, std::string_view id) const {
  auto it = by_key_.find(std::string(type) + "/" + std::string(id));
  return it == by_key_.end() ? nullptr : &it->second;
}

}  // namespace mhr::fhir
