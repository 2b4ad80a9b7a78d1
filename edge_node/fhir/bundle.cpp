// POST /fhir: transaction and batch Bundles. Entries are checked, given ids
// and their urn:uuid references resolved first; a transaction writes
// nothing unless every entry is valid. The records are then written
// pipelined, and one response Bundle tells each entry's status.
#include <set>

#include "edge_node/fhir/consent_mapping.hpp"
#include "edge_node/fhir/dates.hpp"
#include "edge_node/fhir/ids.hpp"
#include "edge_node/fhir/resource_record.hpp"
#include "edge_node/fhir/resource_types.hpp"
#include "edge_node/fhir/service.hpp"

namespace mhr::fhir {

namespace {

struct Entry {
  std::string method;
  std::optional<Route> route;
  std::string path;  // GET entries: the request, routed after the writes
  Params params;
  std::string full_url;
  std::string if_match;
  Json resource;  // POST and PUT
  const ResourceType* type = nullptr;
  std::string id;
  std::optional<UserId> user;
  bool write = false;
  bool post = false;
  bool existed = false;                // a PUT of a resource that was there: 200, not 201
  bool unowned = false;                // names no patient: stored with the Bundle's patient
  bool grants = false;                 // a Consent whose grants are sent after the records
  std::vector<PatientStatement> acts;  // those grants, signed
  std::optional<Hash> supersedes;
  std::optional<FhirError> error;
  std::string note;  // told in the entry's response.outcome
  std::optional<Hash> committed;
  std::string payload;
};

std::string type_and_id(const Entry& e) {
  return std::string(e.type->name) + "/" + e.id;
}

// Reads entry.request and entry.resource; sets e.error when they are wrong.
void parse_entry(const Json& in, const std::string& base_url, Entry& e) {
  if (!in.is_object()) return void(e.error = bad_request("an entry must be an object"));
  auto request = in.find("request");
  if (request == in.end() || !request->is_object() || !request->contains("method") ||
      !(*request)["method"].is_string() || !request->contains("url") ||
      !(*request)["url"].is_string())
    return void(e.error = bad_request("an entry needs request.method and request.url"));
  e.method = (*request)["method"].get<std::string>();
  std::string url = (*request)["url"].get<std::string>();
  if (url.starts_with(base_url + "/")) url = url.substr(base_url.size() + 1);
  if (url.find("://") != std::string::npos)
    return void(e.error = bad_request("request.url '" + url + "' is not on this server"));
  if (auto f = in.find("fullUrl"); f != in.end() && f->is_string())
    e.full_url = f->get<std::string>();
  if (auto m = request->find("ifMatch"); m != request->end() && m->is_string())
    e.if_match = m->get<std::string>();
  if (request->contains("ifNoneMatch") || request->contains("ifModifiedSince"))
    return void(e.error = bad_request("conditional reads and updates (ifNoneMatch, "
                                      "ifModifiedSince) are not supported"));
  // Patient bundles carry it on their Patient and shared entries; with no
  // index across patients nothing can match, so the entry is created and
  // its response says so.
  if (auto c = request->find("ifNoneExist");
      c != request->end() && c->is_string() && e.method == "POST")
    e.note = "ifNoneExist '" + c->get<std::string>() +
             "' was not evaluated (this server keeps no index across patients): created";
  else if (request->contains("ifNoneExist"))
    return void(e.error = bad_request("ifNoneExist belongs to a POST"));
  if (e.method != "GET" && e.method != "POST" && e.method != "PUT" && e.method != "DELETE")
    return void(e.error = method_not_allowed("request.method " + e.method + " is not supported"));
  auto [path, params] = split_url(url);
  auto r = route(e.method, path);
  if (!r) return void(e.error = r.error());
  if (std::holds_alternative<Transaction>(*r))
    return void(e.error = bad_request("a Bundle cannot contain another transaction or batch"));
  if (auto* d = std::get_if<Delete>(&*r))
    return void(e.error = method_not_allowed("records on the chain are permanent: " + d->type +
                                             "/" + d->id + " cannot be deleted"));
  e.route = *r;
  e.path = path;
  e.params = std::move(params);
  if (e.method == "GET") return;

  e.write = true;
  e.post = std::holds_alternative<Create>(*r);
  const std::string type = e.post ? std::get<Create>(*r).type : std::get<Update>(*r).type;
  auto res = in.find("resource");
  if (res == in.end())
    return void(e.error = bad_request(e.method + " " + url + " has no resource"));
  auto checked = check_resource(*res, type);
  if (!checked) return void(e.error = checked.error());
  e.resource = std::move(*checked);
  e.type = find_resource_type(type);
  if (e.type->name == "Consent") {
    // A new Consent's grants are signed once its actors' references are
    // resolved (they may name parties of this Bundle) and sent after the
    // records. Revocations are sent on their own: they end grants that
    // exist, which the Bundle's own writes would make ambiguous.
    set_consent_grants(e.resource, {});
    auto plan = consent_plan(e.resource);
    if (!plan) return void(e.error = plan.error());
    if (plan->effect == ConsentEffect::kRevoke || (plan->effect != ConsentEffect::kNone && !e.post))
      return void(e.error = unprocessable(
                      "a Consent that revokes access, or changes one that grants it, is sent on "
                      "its own (POST or PUT /fhir/Consent), not in a Bundle"));
    e.grants = plan->effect == ConsentEffect::kGrant;
  }
  if (!e.post) {
    e.id = std::get<Update>(*r).id;
    if (e.resource.value("id", "") != e.id)
      return void(e.error = bad_request("the resource's id must equal the id in request.url"));
  }
}

Json entry_error(const FhirError& e) {
  return {{"response", {{"status", status_line(e.status)}, {"outcome", operation_outcome(e)}}}};
}

// The OperationOutcome of a transaction that failed: one issue per entry.
Json failed_transaction(const std::vector<Entry>& es, const std::string& committed_note) {
  Json issues = Json::array();
  for (std::size_t i = 0; i < es.size(); ++i)
    if (es[i].error)
      issues.push_back(
          {{"severity", "error"},
           {"code", es[i].error->code},
           {"diagnostics", "entry " + std::to_string(i) + ": " + es[i].error->diagnostics},
           {"expression", Json::array({"Bundle.entry[" + std::to_string(i) + "]"})}});
  if (!committed_note.empty())
    issues.push_back(
        {{"severity", "information"}, {"code", "informational"}, {"diagnostics", committed_note}});
  return {{"resourceType", "OperationOutcome"}, {"issue", std::move(issues)}};
}

int first_error_status(const std::vector<Entry>& es) {
  for (const Entry& e : es)
    if (e.error) return e.error->status;
  return 200;
}

}  // namespace

FhirResponse FhirService::bundle(const FhirRequest& req, const Identity& who) {
  auto parsed = parse_json(req.body);
  if (!parsed) return {parsed.error().status, operation_outcome(parsed.error()), "", "", ""};
  const Json& b = *parsed;
  if (!b.is_object() || b.value("resourceType", "") != "Bundle") {
    FhirError e = bad_request("POST /fhir takes a transaction or batch Bundle");
    return {e.status, operation_outcome(e), "", "", ""};
  }
  const std::string kind = b.value("type", "");
  if (kind != "transaction" && kind != "batch") {
    FhirError e = bad_request("Bundle.type must be transaction or batch, not '" + kind + "'");
    return {e.status, operation_outcome(e), "", "", ""};
  }
  const bool atomic = kind == "transaction";
  const Json empty = Json::array();
  const Json& in = b.contains("entry") ? b["entry"] : empty;
  if (!in.is_array()) {
    FhirError e = bad_request("Bundle.entry must be a list");
    return {e.status, operation_outcome(e), "", "", ""};
  }
  if (in.size() > limits_.max_bundle_entries) {
    FhirError e = too_large("the Bundle has " + std::to_string(in.size()) + " entries; at most " +
                            std::to_string(limits_.max_bundle_entries) + " per request");
    return {e.status, operation_outcome(e), "", "", ""};
  }

  std::vector<Entry> es(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) parse_entry(in[i], req.base_url, es[i]);
  if (who.external)
    for (Entry& e : es)
      if (!e.error && e.write) e.error = external_writes(who);

  // Ids: new patients first, since every other id names its patient.
  std::map<std::string, std::string, std::less<>> refs;
  auto map_ref = [&](const Entry& e, const std::string& old_id) {
    const std::string now = type_and_id(e);
    if (!e.full_url.empty() && e.full_url != now) refs[e.full_url] = now;
    if (!old_id.empty() && old_id != e.id) refs[std::string(e.type->name) + "/" + old_id] = now;
  };
  for (Entry& e : es) {
    if (e.error || !e.write || e.type->name != "Patient") continue;
    const std::string old_id = e.resource.value("id", "");
    if (e.post) {
      e.user = new_user();
      e.id = patient_id(*e.user);
      e.resource["id"] = e.id;
    } else if (!(e.user = user_of_patient_id(e.id))) {
      e.error = bad_request("Patient ids are chain UserIds (64 lowercase hex digits)");
      continue;
    }
    map_ref(e, old_id);
  }
  std::set<UserId> bundle_users;
  for (Entry& e : es) {
    if (e.error || !e.write || e.type->name == "Patient") continue;
    rewrite_references(e.resource, refs);
    // Lab bundles leave the patient out of a report's member results.
    e.unowned = e.type->shared || !patient_reference(e.resource, *e.type);
    if (e.post && e.unowned) continue;  // placed below
    if (!e.post && !(e.user = user_of_resource_id(e.id))) {
      e.error = bad_request("'" + e.id + "' is not an id of this server: create with POST");
      continue;
    }
    if (!e.unowned) {
      auto owner = patient_of(e.resource, *e.type);
      if (!owner) {
        e.error = owner.error();
        continue;
      }
      if (e.user && *e.user != *owner) {
        e.error = unprocessable(type_and_id(e) +
                                " belongs to another patient than the one it "
                                "names: a resource cannot change patients");
        continue;
      }
      e.user = *owner;
    }
  }
  for (const Entry& e : es)
    if (!e.error && e.user) bundle_users.insert(*e.user);
  for (Entry& e : es) {
    if (e.error || !e.post || e.type->name == "Patient") continue;
    if (e.unowned) {
      if (bundle_users.size() != 1) {
        e.error = unprocessable(
            (e.type->shared ? std::string(e.type->name) + " belongs to no patient"
                            : patient_of(e.resource, *e.type).error().diagnostics) +
            ": without one it is stored with the patient of its Bundle, and this Bundle has " +
            std::to_string(bundle_users.size()) + " patients");
        continue;
      }
      e.user = *bundle_users.begin();
    }
    const std::string old_id = e.resource.value("id", "");
    e.id = new_resource_id(*e.user, random());
    e.resource["id"] = e.id;
    map_ref(e, old_id);
  }
  std::set<std::string> seen;
  for (Entry& e : es) {
    if (e.error || !e.write) continue;
    rewrite_references(e.resource, refs);
    if (!seen.insert(type_and_id(e)).second)
      e.error = bad_request("the Bundle writes " + type_and_id(e) + " twice");
  }
  BundleResources in_bundle;
  for (const Entry& e : es)
    if (!e.error && e.write) in_bundle.emplace(type_and_id(e), &e.resource);
  for (Entry& e : es) {
    if (e.error || !e.write) continue;
    if (e.grants) {
      auto acts = consent_acts(who, *e.user, e.resource, nullptr, req.base_url, in_bundle);
      if (!acts) {
        e.error = acts.error();
        continue;
      }
      e.acts = std::move(*acts);
    }
    e.payload = stored_payload(e.resource);
    if (e.payload.size() > kMaxInlinePayloadBytes)
      e.error =
          too_large(type_and_id(e) + " is " + std::to_string(e.payload.size()) +
                    " bytes; a record holds at most " + std::to_string(kMaxInlinePayloadBytes));
  }
  if (atomic && first_error_status(es) != 200)
    return {first_error_status(es), failed_transaction(es, ""), "", "", ""};

  // Existing patients: registered here? current versions for PUTs. New
  // patients first: a document Bundle lists its Composition before them.
  std::set<UserId> to_register;
  std::set<UserId> loaded;
  for (const Entry& e : es)
    if (!e.error && e.write && e.post && e.type->name == "Patient") to_register.insert(*e.user);
  for (const Entry& e : es)
    if (!e.error && e.write && !to_register.contains(*e.user)) loaded.insert(*e.user);
  std::map<UserId, Timeline> timelines;
  for (const UserId& u : loaded) {
    auto t = load(who, u);
    if (t) {
      timelines.emplace(u, std::move(*t));
      continue;
    }
    bool registers = false;
    for (const Entry& e : es)
      registers = registers || (!e.error && e.write && !e.post && e.type->name == "Patient" &&
                                *e.user == u && t.error().status == 404);
    if (registers) {
      to_register.insert(u);
      timelines.emplace(u, Timeline({}));
      continue;
    }
    for (Entry& e : es)
      if (!e.error && e.write && *e.user == u)
        e.error = t.error().status == 404
                      ? unprocessable(type_and_id(e) + " refers to Patient/" + patient_id(u) +
                                      ", who is not registered at this node")
                      : t.error();
  }
  for (Entry& e : es) {
    if (e.error || !e.write || e.post) continue;
    const Timeline& t = timelines.at(*e.user);
    const ResourceHistory* existing = t.find(e.type->name, e.id);
    if (existing) {
      e.existed = true;
      e.supersedes = existing->current().record.hash;
    }
    if (!e.if_match.empty() && (!existing || !etag_matches(e.if_match, existing->current().record)))
      e.error =
          FhirError{412, "conflict",
                    "ifMatch " + e.if_match + " is not the current version of " + type_and_id(e)};
  }
  if (atomic && first_error_status(es) != 200)
    return {first_error_status(es), failed_transaction(es, ""), "", "", ""};

  // Registrations, then the records, each batch pipelined.
  std::vector<UserId> reg_users(to_register.begin(), to_register.end());
  std::vector<BackendReply> reg = backend_.register_patients(who, reg_users);
  MHR_ASSERT(reg.size() == reg_users.size());
  for (std::size_t k = 0; k < reg.size(); ++k) {
    if (reg[k].status == BackendStatus::kOk) continue;
    for (Entry& e : es)
      if (!e.error && e.write && *e.user == reg_users[k])
        e.error = backend_error(reg[k].status, reg[k].detail,
                                "registering Patient/" + patient_id(reg_users[k]));
  }
  if (atomic && first_error_status(es) != 200)
    return {first_error_status(es), failed_transaction(es, ""), "", "", ""};

  std::vector<NewRecord> records;
  std::vector<std::size_t> record_entry;
  for (std::size_t i = 0; i < es.size(); ++i) {
    Entry& e = es[i];
    if (e.error || !e.write) continue;
    records.push_back(
        {*e.user, std::string(e.type->name), e.type->category, std::move(e.payload), e.supersedes});
    record_entry.push_back(i);
  }
  std::vector<BackendReply> replies = backend_.submit(who, records);
  MHR_ASSERT(replies.size() == records.size());
  std::set<UserId> written_users;
  std::vector<std::string> committed_names;
  for (std::size_t k = 0; k < replies.size(); ++k) {
    Entry& e = es[record_entry[k]];
    if (replies[k].status == BackendStatus::kOk && replies[k].hash) {
      e.committed = replies[k].hash;
      written_users.insert(*e.user);
      committed_names.push_back(type_and_id(e));
    } else {
      e.error = backend_error(replies[k].status, replies[k].detail, "writing " + type_and_id(e));
    }
  }
  // A Consent's grants follow its record, as for a Consent on its own; a
  // Consent on the chain gets them even when another entry failed.
  for (std::size_t i : record_entry) {
    Entry& e = es[i];
    if (!e.committed || e.acts.empty()) continue;
    if (auto failed = send_consent_acts(who, e.acts, true,
                                        "; " + type_and_id(e) +
                                            " was stored but not all of its grants were "
                                            "committed: PUT it again"))
      e.error = *failed;
  }
  if (atomic && first_error_status(es) != 200) {
    std::string note;
    if (!committed_names.empty()) {
      note = std::to_string(committed_names.size()) +
             " entries were committed before the failure and stay on the chain:";
      for (std::size_t k = 0; k < committed_names.size() && k < 50; ++k)
        note += " " + committed_names[k];
      if (committed_names.size() > 50) note += " ...";
    }
    return {first_error_status(es), failed_transaction(es, note), "", "", ""};
  }

  // Positions of what was written, one read per patient.
  std::map<Hash, ChainRecord> written;
  for (const UserId& u : written_users) {
    BackendRead r = backend_.read(who, u);
    for (ChainRecord& c : r.records) written.emplace(c.hash, std::move(c));
  }

  Json out = Json::array();
  for (std::size_t i = 0; i < es.size(); ++i) {
    Entry& e = es[i];
    if (e.error) {
      out.push_back(entry_error(*e.error));
    } else if (e.write) {
      Json response = {{"status", status_line(e.existed ? 200 : 201)}};
      auto c = written.find(*e.committed);
      if (c != written.end()) {
        const std::string vid = version_id({c->second.network, c->second.sequence});
        response["location"] = type_and_id(e) + "/_history/" + vid;
        response["etag"] = "W/\"" + vid + "\"";
        response["lastModified"] = format_instant(c->second.created_at_us / 1000);
      } else {
        response["location"] = type_and_id(e);
      }
      if (!e.note.empty()) response["outcome"] = operation_outcome_info(e.note);
      out.push_back({{"fullUrl", req.base_url + "/" + type_and_id(e)}, {"response", response}});
    } else {
      FhirRequest sub{"GET", e.path, e.params, "", "", req.base_url};
      FhirResponse r = dispatch(*e.route, sub, who);
      Json entry = {{"response", {{"status", status_line(r.status)}}}};
      if (r.status < 300)
        entry["resource"] = std::move(r.body);
      else
        entry["response"]["outcome"] = std::move(r.body);
      out.push_back(std::move(entry));
    }
  }
  Json response = {{"resourceType", "Bundle"},
                   {"type", atomic ? "transaction-response" : "batch-response"}};
  if (!out.empty()) response["entry"] = std::move(out);
  return {200, std::move(response), "", "", ""};
}

}  // namespace mhr::fhir
