// Resource bodies in, record payloads out, and back with chain meta.
#include "edge_node/fhir/resource_record.hpp"

#include <limits>

#include "edge_node/fhir/dates.hpp"
#include "edge_node/fhir/ids.hpp"

namespace mhr::fhir {

namespace {

// Nesting depth of JSON text, counted outside strings; stops early.
bool depth_within(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '{' || c == '[') {
      if (++depth > limit) return false;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return true;
}

const std::string* reference_of(const Json& v) {
  if (!v.is_object()) return nullptr;
  auto it = v.find("reference");
  if (it == v.end() || !it->is_string()) return nullptr;
  return &it->get_ref<const std::string&>();
}

}  // namespace

Result<Json, FhirError> parse_json(std::string_view body) {
  if (!depth_within(body, kMaxJsonDepth))
    return err(bad_request("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"));
  try {
    return Json::parse(body.begin(), body.end());
  } catch (const Json::exception& e) {
    // parse_error, and out_of_range for a number beyond a double (1e999).
    return err(bad_request(std::string("malformed JSON: ") + e.what()));
  }
}

Result<Json, FhirError> check_resource(Json resource, std::optional<std::string_view> expected) {
  if (!resource.is_object()) return err(bad_request("expected a FHIR resource (a JSON object)"));
  auto rt = resource.find("resourceType");
  if (rt == resource.end() || !rt->is_string())
    return err(bad_request("the resource has no resourceType"));
  const std::string& type = rt->get_ref<const std::string&>();
  if (expected && type != *expected)
    return err(bad_request("resourceType '" + type + "' does not match the URL's type '" +
                           std::string(*expected) + "'"));
  if (!find_resource_type(type))
    return err(not_found("unknown or unsupported resource type '" + type +
                         "' (GET /fhir/metadata lists the supported types)"));
  if (auto id = resource.find("id"); id != resource.end() && !id->is_string())
    return err(bad_request("id must be a string"));
  if (auto meta = resource.find("meta"); meta != resource.end() && !meta->is_object())
    return err(bad_request("meta must be an object"));
  return resource;
}

std::optional<std::string> patient_reference(const Json& resource, const ResourceType& type) {
  for (std::string_view element : type.patient_elements) {
    if (element.empty()) break;
    auto it = resource.find(std::string(element));
    if (it == resource.end()) continue;
    if (const std::string* ref = reference_of(*it)) return *ref;
    if (it->is_array()) {
      for (const Json& item : *it)
        if (const std::string* ref = reference_of(item); ref && is_patient_reference(*ref))
          return *ref;
    }
  }
  return std::nullopt;
}

Result<UserId, FhirError> patient_of(const Json& resource, const ResourceType& type) {
  if (type.name == "Patient") {
    auto id = resource.find("id");
    if (id == resource.end() || !id->is_string())
      return err(unprocessable("the Patient has no id"));
    if (auto user = user_of_patient_id(id->get_ref<const std::string&>())) return *user;
    return err(unprocessable("Patient id '" + id->get<std::string>() +
                             "' is not a chain UserId (64 lowercase hex digits)"));
  }
  if (type.shared)
    return err(unprocessable(std::string(type.name) +
                             " belongs to no patient: send it inside the transaction Bundle of "
                             "the patient whose records refer to it"));
  auto ref = patient_reference(resource, type);
  if (!ref)
    return err(unprocessable(std::string(type.name) + " has no " +
                             std::string(type.patient_elements[0]) +
                             ": every clinical resource belongs to a patient's timeline; set " +
                             std::string(type.patient_elements[0]) + ".reference to Patient/<id>"));
  if (auto user = user_of_patient_reference(*ref)) return *user;
  return err(unprocessable(std::string(type.name) + "." + std::string(type.patient_elements[0]) +
                           " '" + *ref +
                           "' names no patient of this server (expected Patient/<64 hex "
                           "digits>)"));
}

void rewrite_references(Json& node, const std::map<std::string, std::string, std::less<>>& map) {
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it.key() == "reference" && it->is_string()) {
        auto found = map.find(it->get_ref<const std::string&>());
        if (found != map.end()) *it = found->second;
      } else {
        rewrite_references(*it, map);
      }
    }
  } else if (node.is_array()) {
    for (Json& item : node) rewrite_references(item, map);
  }
}

std::string stored_payload(const Json& resource) {
  MHR_ASSERT(resource.is_object() && resource.contains("resourceType"));
  Json out = Json::object();
  out["resourceType"] = resource["resourceType"];
  if (auto id = resource.find("id"); id != resource.end()) out["id"] = *id;
  if (auto meta = resource.find("meta"); meta != resource.end() && meta->is_object()) {
    Json kept = Json::object();
    for (auto it = meta->begin(); it != meta->end(); ++it) {
      if (it.key() == "versionId" || it.key() == "lastUpdated") continue;
      if (it.key() == "extension" && it->is_array()) {
        Json ext = Json::array();
        for (const Json& e : *it)
          if (!(e.is_object() && e.value("url", "") == kChainExtensionUrl)) ext.push_back(e);
        if (!ext.empty()) kept["extension"] = std::move(ext);
        continue;
      }
      kept[it.key()] = *it;
    }
    if (!kept.empty()) out["meta"] = std::move(kept);
  }
  for (auto it = resource.begin(); it != resource.end(); ++it)
    if (it.key() != "resourceType" && it.key() != "id" && it.key() != "meta") out[it.key()] = *it;
  return out.dump();
}

Json presented(const ChainRecord& record, Json resource) {
  MHR_ASSERT(resource.is_object());
  Json meta = resource.contains("meta") ? resource["meta"] : Json::object();
  Json chain = {{"url", kChainExtensionUrl}, {"extension", Json::array()}};
  chain["extension"].push_back({{"url", "network"}, {"valueUnsignedInt", record.network}});
  // FHIR's unsignedInt stops at 2^31-1; no chain gets that long, but say so
  // in a string rather than overflow if one ever did.
  if (record.sequence <= static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()))
    chain["extension"].push_back({{"url", "sequence"}, {"valueUnsignedInt", record.sequence}});
  else
    chain["extension"].push_back(
        {{"url", "sequence"}, {"valueString", std::to_string(record.sequence)}});
  chain["extension"].push_back({{"url", "hash"}, {"valueString", record.hash.hex()}});

  Json out_meta = Json::object();
  out_meta["versionId"] = version_id({record.network, record.sequence});
  out_meta["lastUpdated"] = format_instant(record.created_at_us / 1000);
  for (auto it = meta.begin(); it != meta.end(); ++it)
    if (it.key() != "versionId" && it.key() != "lastUpdated" && it.key() != "extension")
      out_meta[it.key()] = *it;
  Json ext = meta.contains("extension") && meta["extension"].is_array() ? meta["extension"]
                                                                        : Json::array();
  ext.push_back(std::move(chain));
  out_meta["extension"] = std::move(ext);

  Json out = Json::object();
  out["resourceType"] = resource["resourceType"];
  if (resource.contains("id")) out["id"] = resource["id"];
  out["meta"] = std::move(out_meta);
  for (auto it = resource.begin(); it != resource.end(); ++it)
    if (it.key() != "resourceType" && it.key() != "id" && it.key() != "meta") out[it.key()] = *it;
  return out;
}

}  // namespace mhr::fhir
