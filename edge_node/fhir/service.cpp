// The single-resource interactions of the FHIR gateway: create, read,
// vread, update, history, search, $everything, metadata; DELETE refused.
#include "edge_node/fhir/service.hpp"

#include <algorithm>

#include "edge_node/fhir/capability.hpp"
#include "edge_node/fhir/ids.hpp"
#include "edge_node/fhir/resource_record.hpp"
#include "edge_node/fhir/resource_types.hpp"
#include "edge_node/fhir/search.hpp"

namespace mhr::fhir {

namespace {

FhirResponse error_response(const FhirError& e) {
  FhirResponse r;
  r.status = e.status;
  r.body = operation_outcome(e);
  return r;
}

std::string etag_of(const ChainRecord& r) {
  return "W/\"" + version_id({r.network, r.sequence}) + "\"";
}

}  // namespace

bool etag_matches(std::string_view if_match, const ChainRecord& current) {
  std::string_view v = if_match;
  if (v.starts_with("W/")) v.remove_prefix(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return v == version_id({current.network, current.sequence});
}

FhirResponse resource_response(int status, const ChainRecord& record, const Json& resource,
                               const std::string& base_url) {
  FhirResponse r;
  r.status = status;
  r.body = presented(record, resource);
  r.location = base_url + "/" + record.content_type + "/" + resource.value("id", "") +
               "/_history/" + version_id({record.network, record.sequence});
  r.etag = etag_of(record);
  return r;
}

FhirError external_writes(const Identity& who) {
  return forbidden("API key '" + who.name +
                   "' is external: it reads what patients' consents grant it, and writes nothing");
}

FhirError backend_error(BackendStatus status, const std::string& detail, const std::string& what) {
  if (status == BackendStatus::kUnavailable)
    return unavailable(what + ": the record node could not do it now (" + detail + "); try again");
  return unprocessable(what + ": the record node refused (" + detail + ")");
}

FhirService::FhirService(FhirBackend& backend, std::function<std::uint64_t()> random,
                         ServiceLimits limits)
    : backend_(backend), random_(std::move(random)), limits_(limits) {
  MHR_ASSERT(random_ != nullptr);
  MHR_ASSERT(limits_.max_bundle_entries > 0);
}

FhirResponse FhirService::handle(const FhirRequest& req, const Identity& who) {
  auto r = route(req.method, req.path);
  if (!r) {
    FhirResponse out = error_response(r.error());
    if (r.error().status == 405 && req.method == "DELETE") out.allow = "GET, PUT";
    return out;
  }
  return dispatch(*r, req, who);
}

FhirResponse FhirService::dispatch(const Route& r, const FhirRequest& req, const Identity& who) {
  const bool writes = std::holds_alternative<Create>(r) || std::holds_alternative<Update>(r);
  if (writes && who.external) return error_response(external_writes(who));
  return std::visit(
      [&](const auto& op) -> FhirResponse {
        using T = std::decay_t<decltype(op)>;
        if constexpr (std::is_same_v<T, Metadata>) {
          return {200, capability_statement(req.base_url), "", "", ""};
        } else if constexpr (std::is_same_v<T, Transaction>) {
          std::lock_guard lock(write_mutex_);
          return bundle(req, who);
        } else if constexpr (std::is_same_v<T, Create>) {
          std::lock_guard lock(write_mutex_);
          return create(op, req, who);
        } else if constexpr (std::is_same_v<T, Update>) {
          std::lock_guard lock(write_mutex_);
          return update(op, req, who);
        } else if constexpr (std::is_same_v<T, Delete>) {
          FhirResponse out = error_response(method_not_allowed(
              "records on the chain are permanent: " + op.type + "/" + op.id +
              " cannot be deleted. To correct it, PUT a new version (for example with status "
              "entered-in-error); its history keeps every version."));
          out.allow = "GET, PUT";
          return out;
        } else if constexpr (std::is_same_v<T, Read>) {
          return read(op, req, who);
        } else if constexpr (std::is_same_v<T, VRead>) {
          return vread(op, req, who);
        } else if constexpr (std::is_same_v<T, History>) {
          return history(op, req, who);
        } else if constexpr (std::is_same_v<T, Search>) {
          return search(op, req, who);
        } else {
          static_assert(std::is_same_v<T, Everything>);
          return everything(op, req, who);
        }
      },
      r);
}

UserId FhirService::new_user() {
  return backend_.new_patient();
}

Result<Timeline, FhirError> FhirService::load(const Identity& who, const UserId& user) {
  BackendRead r = backend_.read(who, user);
  if (r.status == BackendStatus::kRejected)
    return err(not_found("Patient/" + patient_id(user) + " is not registered at this node"));
  if (r.status == BackendStatus::kDenied)
    return err(forbidden("reading Patient/" + patient_id(user) + "'s records: " + r.detail +
                         " (a Consent of the patient naming this API key's identity grants "
                         "access)"));
  if (r.status != BackendStatus::kOk)
    return err(backend_error(r.status, r.detail, "reading Patient/" + patient_id(user)));
  return Timeline(std::move(r.records));
}

Result<Timeline, FhirError> FhirService::load_resource(const Identity& who, std::string_view type,
                                                       std::string_view id) {
  const std::string name = std::string(type) + "/" + std::string(id);
  auto user = type == "Patient" ? user_of_patient_id(id) : user_of_resource_id(id);
  if (!user) return err(not_found("no " + name + " here (not an id of this server)"));
  auto t = load(who, *user);
  if (!t) {
    if (t.error().status == 404) return err(not_found("no " + name + " here"));
    return t;
  }
  if (!t->find(type, id)) return err(not_found("no " + name + " here"));
  return t;
}

Result<ChainRecord, FhirError> FhirService::write_one(const Identity& who, NewRecord record) {
  const std::string what = "writing " + record.content_type;
  if (record.payload.size() > kMaxInlinePayloadBytes)
    return err(too_large("the resource is " + std::to_string(record.payload.size()) +
                         " bytes; a record holds at most " +
                         std::to_string(kMaxInlinePayloadBytes)));
  const UserId user = record.user;
  std::vector<BackendReply> replies = backend_.submit(who, std::span(&record, 1));
  MHR_ASSERT(replies.size() == 1);
  if (replies[0].status != BackendStatus::kOk || !replies[0].hash)
    return err(backend_error(replies[0].status, replies[0].detail, what));
  BackendRead r = backend_.read(who, user);
  if (r.status == BackendStatus::kOk)
    for (ChainRecord& c : r.records)
      if (c.hash == *replies[0].hash) return std::move(c);
  return err(unavailable(what + ": committed as " + replies[0].hash->hex() +
                         " but not yet readable; read it again shortly"));
}

FhirResponse FhirService::create(const Create& c, const FhirRequest& req, const Identity& who) {
  auto parsed = parse_json(req.body);
  if (!parsed) return error_response(parsed.error());
  auto resource = check_resource(std::move(*parsed), c.type);
  if (!resource) return error_response(resource.error());
  const ResourceType* type = find_resource_type(c.type);
  MHR_ASSERT(type != nullptr);
  Json& res = *resource;

  UserId user;
  if (c.type == "Patient") {
    user = new_user();
    std::vector<BackendReply> reg = backend_.register_patients(who, std::span(&user, 1));
    MHR_ASSERT(reg.size() == 1);
    if (reg[0].status != BackendStatus::kOk)
      return error_response(backend_error(reg[0].status, reg[0].detail, "registering the patient"));
    res["id"] = patient_id(user);
  } else {
    auto owner = patient_of(res, *type);
    if (!owner) return error_response(owner.error());
    user = *owner;
    res["id"] = new_resource_id(user, random());
  }
  return write_resource(who, {user, c.type, type->category, "", std::nullopt}, res, nullptr, 201,
                        req.base_url);
}

FhirResponse FhirService::write_resource(const Identity& who, NewRecord record, Json& resource,
                                         const Json* superseded, int status,
                                         const std::string& base_url) {
  const std::string name = record.content_type + "/" + resource.value("id", "");
  const UserId user = record.user;
  std::vector<PatientStatement> acts;
  if (record.content_type == "Consent") {
    auto a = consent_acts(who, user, resource, superseded, base_url);
    if (!a) return error_response(a.error());
    acts = std::move(*a);
    if (auto e = send_consent_acts(who, acts, false, "; nothing was stored"))
      return error_response(*e);
  }
  record.payload = stored_payload(resource);
  auto written = write_one(who, std::move(record));
  if (!written) {
    FhirError e = written.error();
    if (e.diagnostics.find("not registered") != std::string::npos)
      e = unprocessable(name.substr(0, name.find('/')) + " refers to Patient/" + patient_id(user) +
                        ", who is not registered at this node");
    return error_response(e);
  }
  if (auto e = send_consent_acts(
          who, acts, true,
          "; " + name + " was stored but not all of its grants were committed: PUT it again"))
    return error_response(*e);
  Json stored = Json::parse(written->payload);
  return resource_response(status, *written, stored, base_url);
}

FhirResponse FhirService::read(const Read& r, const FhirRequest& req, const Identity& who) {
  auto t = load_resource(who, r.type, r.id);
  if (!t) return error_response(t.error());
  const Version& v = t->find(r.type, r.id)->current();
  FhirResponse out = resource_response(200, v.record, v.resource, req.base_url);
  out.location.clear();
  return out;
}

FhirResponse FhirService::vread(const VRead& r, const FhirRequest& req, const Identity& who) {
  auto pos = parse_version_id(r.version);
  if (!pos)
    return error_response(
        not_found("'" + r.version + "' is not a version of this server (<network>.<sequence>)"));
  auto t = load_resource(who, r.type, r.id);
  if (!t) return error_response(t.error());
  for (const Version& v : t->find(r.type, r.id)->versions)
    if (v.record.network == pos->network && v.record.sequence == pos->sequence) {
      FhirResponse out = resource_response(200, v.record, v.resource, req.base_url);
      out.location.clear();
      return out;
    }
  return error_response(not_found("no version " + r.version + " of " + r.type + "/" + r.id));
}

FhirResponse FhirService::update(const Update& u, const FhirRequest& req, const Identity& who) {
  auto parsed = parse_json(req.body);
  if (!parsed) return error_response(parsed.error());
  auto resource = check_resource(std::move(*parsed), u.type);
  if (!resource) return error_response(resource.error());
  Json& res = *resource;
  if (!res.contains("id") || res["id"] != u.id)
    return error_response(
        bad_request("the resource's id must equal the id in the URL ('" + u.id + "')"));
  const ResourceType* type = find_resource_type(u.type);
  MHR_ASSERT(type != nullptr);

  std::optional<UserId> user =
      u.type == "Patient" ? user_of_patient_id(u.id) : user_of_resource_id(u.id);
  if (!user)
    return error_response(bad_request(
        u.type == "Patient"
            ? "Patient ids are chain UserIds (64 lowercase hex digits)"
            : "'" + u.id + "' is not an id of this server: create new resources with POST"));
  if (u.type != "Patient") {
    // A resource without a patient element stays on the timeline its id
    // names (shared types, a Bundle's member results).
    auto owner = type->shared || !patient_reference(res, *type) ? Result<UserId, FhirError>(*user)
                                                                : patient_of(res, *type);
    if (!owner) return error_response(owner.error());
    if (*owner != *user)
      return error_response(
          unprocessable("the resource names Patient/" + patient_id(*owner) + " but " + u.type +
                        "/" + u.id + " belongs to Patient/" + patient_id(*user) +
                        ": a resource cannot move to another patient's timeline"));
  }

  auto timeline = load(who, *user);
  if (!timeline && timeline.error().status == 404 && u.type == "Patient") {
    // Update as create: registers a patient whose UserId the client chose
    // (e.g. derived from the patient's own key).
    std::vector<BackendReply> reg = backend_.register_patients(who, std::span(&*user, 1));
    if (reg[0].status != BackendStatus::kOk)
      return error_response(backend_error(reg[0].status, reg[0].detail, "registering the patient"));
    timeline = Timeline({});
  }
  if (!timeline) {
    if (timeline.error().status == 404)
      return error_response(unprocessable(u.type + " refers to Patient/" + patient_id(*user) +
                                          ", who is not registered at this node"));
    return error_response(timeline.error());
  }
  const ResourceHistory* existing = timeline->find(u.type, u.id);
  if (!req.if_match.empty() &&
      (!existing || !etag_matches(req.if_match, existing->current().record)))
    return error_response(
        {412, "conflict",
         "If-Match " + req.if_match + " is not the current version of " + u.type + "/" + u.id});
  std::optional<Hash> supersedes;
  if (existing) supersedes = existing->current().record.hash;
  return write_resource(who, {*user, u.type, type->category, "", supersedes}, res,
                        existing ? &existing->current().resource : nullptr, existing ? 200 : 201,
                        req.base_url);
}

FhirResponse FhirService::history(const History& h, const FhirRequest& req, const Identity& who) {
  auto paging = parse_everything(req.params, UserId{});
  if (!paging || paging->types || !paging->dates.empty())
    return error_response(bad_request("_history takes _count and _offset only"));
  auto t = load_resource(who, h.type, h.id);
  if (!t) return error_response(t.error());
  const ResourceHistory& rh = *t->find(h.type, h.id);
  Json entries = Json::array();
  const std::size_t n = rh.versions.size();
  for (std::size_t k = paging->offset; k < n && k < paging->offset + paging->count; ++k) {
    const std::size_t i = n - 1 - k;  // newest first
    const Version& v = rh.versions[i];
    const bool first = i == 0;
    entries.push_back(
        {{"fullUrl", req.base_url + "/" + h.type + "/" + h.id},
         {"resource", presented(v.record, v.resource)},
         {"request",
          {{"method", first ? "POST" : "PUT"}, {"url", first ? h.type : h.type + "/" + h.id}}},
         {"response",
          {{"status", first ? "201" : "200"},
           {"etag", etag_of(v.record)},
           {"lastModified", format_instant(v.record.created_at_us / 1000)}}}});
  }
  Json bundle = {{"resourceType", "Bundle"}, {"type", "history"}, {"total", n}};
  if (!entries.empty()) bundle["entry"] = std::move(entries);
  return {200, std::move(bundle), "", "", ""};
}

FhirResponse FhirService::search(const Search& s, const FhirRequest& req, const Identity& who) {
  auto q = parse_search(req.params, s.type);
  if (!q) return error_response(q.error());
  std::vector<ChainRecord> none;
  auto t = load(who, *q->patient);
  if (!t && t.error().status != 404) return error_response(t.error());
  // A patient unknown here simply has no records here.
  Timeline empty(std::move(none));
  const Timeline& timeline = t ? *t : empty;
  return {200, searchset(select(timeline, *q, s.type), *q, req.base_url, s.type, req.params), "",
          "", ""};
}

FhirResponse FhirService::everything(const Everything& e, const FhirRequest& req,
                                     const Identity& who) {
  auto user = user_of_patient_id(e.id);
  if (!user) return error_response(not_found("no Patient/" + e.id + " here"));
  auto q = parse_everything(req.params, *user);
  if (!q) return error_response(q.error());
  auto t = load(who, *user);
  if (!t) return error_response(t.error());
  auto matches = select(*t, *q, "");
  // The Patient first, as $everything is expected to answer.
  std::stable_partition(matches.begin(), matches.end(),
                        [](const ResourceHistory* h) { return h->type == "Patient"; });
  return {200, searchset(matches, *q, req.base_url, "Patient/" + e.id + "/$everything", req.params),
          "", "", ""};
}

}  // namespace mhr::fhir
