#include "tools/mhr/client_commands.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/blob.hpp"
#include "common/client_codec.hpp"
#include "common/crypto.hpp"
#include "common/key_wrap.hpp"
#include "common/net/zmq_runtime.hpp"
#include "common/read_proof.hpp"
#include "tools/sim/workload.hpp"

namespace mhr {

namespace {

constexpr TimeUs kCallTimeoutUs = 30 * kUsPerSecond;
constexpr TimeUs kStatusTimeoutUs = 2 * kUsPerSecond;
constexpr TimeUs kUsPerDay = 24 * 3600 * kUsPerSecond;

struct ClientArgs {
  std::string topology;
  std::string client_key;
  std::string node;
  std::string user;
  std::string patient_key;
  std::string institution_key;
  bool as_patient = false;
  std::string type = "Observation";
  std::string category = "medical";
  std::string data_file;
  std::string text;
  std::string blob;  // submit: a file to store off-chain; get: an object's id
  std::string out;
  bool json = false;
  // grants
  std::string grantee;
  std::string grantee_box;
  std::string categories = "medical,billing,insurance,administrative";
  std::vector<std::string> types;
  std::string purpose = "care";
  double days = 365;
  std::string grant;
};

// Everything a command needs to talk to one record node as someone.
struct Session {
  Deployment deployment;
  NodeKeys client_keys;
  NodeId node;
  std::unique_ptr<Signer> client;   // the client key file's signing key
  std::unique_ptr<Signer> patient;  // when the patient is known (label or key file)
  UserId user;
  std::optional<SecretSeed> patient_seed;
  std::vector<X25519KeyPair> box_keys;  // what this client may open sealed data keys with
};

NodeId find_node(const Deployment& d, const std::string& name, NodeRole want) {
  for (const NodeInfo& n : d.topology->nodes())
    if (n.name == name || std::to_string(n.id.value) == name) {
      if (n.role != want)
        throw std::runtime_error("'" + name + "' is a " + std::string(node_role_name(n.role)) +
                                 " node, not a " + std::string(node_role_name(want)) + " node");
      return n.id;
    }
  throw std::runtime_error("no node '" + name + "' in the topology");
}

// --institution-key, or in a directory `mhr launch` wrote, the node's own
// key file beside the topology (the launcher plays every hospital's system).
std::optional<std::string> institution_key_file(const ClientArgs& a, const Session& s) {
  if (!a.institution_key.empty()) return a.institution_key;
  const auto dir = std::filesystem::path(a.topology).parent_path();
  const auto file = dir / "nodes" / s.deployment.topology->node(s.node).name / "node.key";
  if (std::filesystem::exists(file)) return file.string();
  return std::nullopt;
}

// A patient is named by 64 hex digits (its id; then --patient-key is needed
// to act as the patient) or by a label, whose demo key derives from the
// label as in the simulator ("7" is the same patient as user 7 there).
Session open_session(const ClientArgs& a) {
  Session s{load_deployment(a.topology), load_key_file(a.client_key), {}, {}, {}, {}, {}, {}};
  const CryptoMode mode = s.deployment.topology->params().crypto;
  s.node = find_node(s.deployment, a.node, NodeRole::kRecord);
  s.client = make_signer(mode, s.client_keys.sign_seed);
  if (!a.patient_key.empty()) {
    s.patient_seed = load_key_file(a.patient_key).sign_seed;
  } else if (!UserId::parse_hex(a.user)) {
    s.patient_seed = patient_seed(a.user);
  }
  if (s.patient_seed) s.patient = make_signer(mode, *s.patient_seed);
  s.box_keys.push_back(box_keys_of(s.client_keys.sign_seed));
  if (auto file = institution_key_file(a, s))
    s.box_keys.push_back(box_keys_of(load_key_file(*file).sign_seed));
  s.user = s.patient ? user_id_of(s.patient->public_key()) : *UserId::parse_hex(a.user);
  if (auto hex = UserId::parse_hex(a.user); hex && s.patient && *hex != s.user)
    throw std::runtime_error("--patient-key is not the key of user " + a.user);
  return s;
}

const Signer& patient_of(const Session& s) {
  if (!s.patient)
    throw std::runtime_error("acting as the patient needs the patient's key (--patient-key FILE)");
  return *s.patient;
}

ClientReply call(const Session& s, ClientRequest request, const Signer& by) {
  sign_request(request, by, s.node, wall_clock_us(), secure_random_u64());
  const NodeAddress& addr = s.deployment.address[s.node.value];
  ZmqClient client(addr.endpoint, addr.curve_z85, s.client_keys.curve);
  return client.call(request, kCallTimeoutUs);
}

ClientReply call_as(const Session& s, const ClientArgs& a, ClientRequest request) {
  return call(s, std::move(request), a.as_patient ? patient_of(s) : *s.client);
}

PatientStatement statement(const Session& s, PatientAct act) {
  const Signer& patient = patient_of(s);
  PatientStatement st{
      s.user, patient.public_key(), wall_clock_us(), secure_random_u64(), std::move(act), {}};
  sign_statement(st, patient);
  return st;
}

// The patient's data key as this requester can have it: derived, for the
// patient; otherwise opened from the sealed copies a read returns.
std::optional<AeadKey> data_key(const Session& s, const ClientArgs& a,
                                const std::vector<WrappedKey>& sealed) {
  if (a.as_patient && s.patient_seed) return data_key_of(*s.patient_seed);
  for (const WrappedKey& w : sealed)
    for (const X25519KeyPair& mine : s.box_keys)
      if (auto key = open_data_key(w, mine)) return key;
  return std::nullopt;
}

AeadKey require_data_key(const Session& s, const ClientArgs& a) {
  if (a.as_patient) return data_key_of(*s.patient_seed);
  ClientReply r = call(s, ReadUserRequest{s.user, {}}, *s.client);
  if (r.status != ReplyStatus::kOk)
    throw std::runtime_error("cannot fetch the data key: " + r.detail);
  if (auto key = data_key(s, a, r.keys)) return *key;
  throw std::runtime_error(
      "no data key this client can open: the patient has not shared it with this institution "
      "(mhr register shares it), or pass --institution-key with the institution's key file");
}

// At registration the patient shares the data key with the institution.
ClientReply share_data_key(const Session& s) {
  const NodeInfo& node = s.deployment.topology->node(s.node);
  const AeadKey dk = data_key_of(*s.patient_seed);
  const X25519KeyPair mine = box_keys_of(*s.patient_seed);
  DataKeyShare share{{{s.patient->public_key(), seal_data_key(dk, mine.public_key)}}};
  if (!node.box_key.is_zero()) share.shares.push_back({node.key, seal_data_key(dk, node.box_key)});
  return call(s, PatientActRequest{statement(s, share)}, *s.patient);
}

std::string printable(const Bytes& b) {
  std::string out(b.begin(), b.end());
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') c = '?';
  return out;
}

int report(const ClientReply& r) {
  static constexpr const char* kStatus[] = {"ok", "rejected", "unavailable", "denied"};
  std::printf("%s", kStatus[static_cast<int>(r.status)]);
  if (!r.detail.empty()) std::printf(": %s", r.detail.c_str());
  if (r.entry_hash) std::printf(" (%s)", r.entry_hash->hex().c_str());
  std::printf("\n");
  return r.status == ReplyStatus::kOk ? 0 : 1;
}

SharedBytes payload_of(const ClientArgs& a) {
  if (!a.data_file.empty()) {
    std::ifstream in(a.data_file, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + a.data_file);
    return SharedBytes(Bytes(std::istreambuf_iterator<char>(in), {}));
  }
  return SharedBytes(as_bytes(a.text));
}

Bytes read_whole_file(const std::string& path, std::uint64_t max_bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw std::runtime_error("cannot read " + path + ": " + ec.message());
  if (size > max_bytes)
    throw std::runtime_error(path + " has " + std::to_string(size) +
                             " bytes; this deployment takes objects up to " +
                             std::to_string(max_bytes) + " bytes (protocol.max_blob_mb)");
  std::ifstream in(path, std::ios::binary);
  Bytes bytes(std::istreambuf_iterator<char>(in), {});
  if (!in.good() && !in.eof()) throw std::runtime_error("cannot read " + path);
  return bytes;
}

// Seals the file, uploads its manifest and chunks, and returns the
// reference the record carries.
OffChainRef upload_blob(const Session& s, const ClientArgs& a, const AeadKey& key) {
  const std::uint64_t max_bytes =
      s.deployment.topology->params().max_blob_bytes - kSealedPayloadOverheadBytes;
  const Bytes sealed = seal_payload(key, s.user, read_whole_file(a.blob, max_bytes));
  const BlobManifest m = manifest_of(sealed);
  const Hash id = blob_id(m);
  auto put = [&](std::uint32_t part, SharedBytes bytes) {
    ClientReply r = call_as(s, a, PutBlobRequest{s.user, id, part, std::move(bytes), {}});
    if (r.status != ReplyStatus::kOk) throw std::runtime_error("upload refused: " + r.detail);
  };
  put(kManifestPart, SharedBytes(encode(m)));
  for (std::uint32_t part = 0; part < m.chunks.size(); ++part)
    put(part, SharedBytes(chunk_of(sealed, part)));
  std::printf("object %s: %llu bytes sealed, %zu chunks uploaded\n", id.hex().c_str(),
              static_cast<unsigned long long>(m.size_bytes), m.chunks.size());
  return {id, m.size_bytes};
}

// Fetches an object part by part, checking each against the manifest and
// the manifest against the id, opens it and writes it (whole or not at all).
int download_blob(const Session& s, const ClientArgs& a) {
  auto id = Hash::parse_hex(a.blob);
  if (!id) throw std::runtime_error("--blob must be the object's id (64 hex digits)");
  if (a.out.empty()) throw std::runtime_error("--blob needs --out FILE");
  ClientReply head = call_as(s, a, ReadBlobRequest{s.user, *id, kManifestPart, {}});
  if (head.status != ReplyStatus::kOk) return report(head);
  auto m = decode<BlobManifest>(head.blob_part.view());
  if (!m.ok() || blob_id(*m) != *id)
    throw std::runtime_error("the node's manifest does not match the object id");
  Bytes sealed;
  sealed.reserve(m->size_bytes);
  for (std::uint32_t part = 0; part < m->chunks.size(); ++part) {
    ClientReply r = call_as(s, a, ReadBlobRequest{s.user, *id, part, {}});
    if (r.status != ReplyStatus::kOk) return report(r);
    if (auto e = chunk_error(*m, part, r.blob_part.view()))
      throw std::runtime_error("chunk " + std::to_string(part) + ": " + *e);
    sealed.insert(sealed.end(), r.blob_part.view().begin(), r.blob_part.view().end());
  }
  auto key = data_key(s, a, head.keys);
  if (!key) throw std::runtime_error("no data key this client can open for this patient");
  auto plain = open_payload(*key, s.user, sealed);
  if (!plain) throw std::runtime_error("the object does not open with the patient's data key");
  const std::string tmp = a.out + ".part";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(plain->data()),
              static_cast<std::streamsize>(plain->size()));
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, a.out);
  std::printf("object %s: %zu chunks checked, %zu bytes written to %s\n", id->hex().c_str(),
              m->chunks.size(), plain->size(), a.out.c_str());
  return 0;
}

// Each record with its payload opened when the data key is at hand.
// Why each record is not proven (mhr get), or nothing to say (mhr read).
using ProofProblems = std::vector<std::optional<std::string>>;

void print_record(const ClientReply& r, std::size_t i, const std::optional<AeadKey>& key, bool json,
                  const ProofProblems* problems) {
  const Record& rec = r.records[i];
  std::optional<Bytes> plain;
  if (key && !is_patient_act(rec)) plain = open_payload(*key, rec.user, rec.payload.view());
  const std::optional<std::string> problem = problems ? (*problems)[i] : std::nullopt;
  if (json) {
    nlohmann::json j = {{"hash", record_hash(rec).hex()}, {"network", rec.network.value},
                        {"sequence", rec.sequence},       {"author", rec.author_node.value},
                        {"type", rec.content_type},       {"category", category_name(rec.category)},
                        {"bytes", rec.payload.size()}};
    if (problems) j["proven"] = !problem.has_value();
    if (problem) j["problem"] = *problem;
    if (problems && i < r.proofs.size()) j["block"] = r.proofs[i].height;
    if (plain) j["payload"] = printable(*plain);
    if (rec.off_chain)
      j["object"] = {{"id", rec.off_chain->hash.hex()}, {"bytes", rec.off_chain->size_bytes}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::string verdict;
  if (problems) verdict = problem ? "  NOT PROVEN: " + *problem : "  proven";
  if (rec.off_chain)
    verdict += "  object " + rec.off_chain->hash.hex() + " (" +
               std::to_string(rec.off_chain->size_bytes) + " bytes; mhr get --blob)";
  std::printf("%s  net%u #%llu  %-18s %-10s %zu bytes%s%s%s\n",
              record_hash(rec).short_hex().c_str(), rec.network.value,
              static_cast<unsigned long long>(rec.sequence), rec.content_type.c_str(),
              std::string(category_name(rec.category)).c_str(), rec.payload.size(), verdict.c_str(),
              plain ? "  " : "", plain ? printable(*plain).substr(0, 60).c_str() : "");
}

void print_records(const ClientReply& r, const std::optional<AeadKey>& key, bool json,
                   const ProofProblems* problems = nullptr) {
  for (std::size_t i = 0; i < r.records.size(); ++i) print_record(r, i, key, json, problems);
}

void print_audit(const ClientReply& r, bool json) {
  for (const AuditEntry& e : r.audit) {
    if (json) {
      nlohmann::json j = {{"sequence", e.sequence},
                          {"time_us", e.time_us},
                          {"actor", e.actor.hex()},
                          {"action", audit_action_name(e.action)},
                          {"records", e.records},
                          {"detail", e.detail},
                          {"hash", audit_entry_hash(e).hex()}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("#%llu  %lld  %s  %-13s %u records  %s\n",
                  static_cast<unsigned long long>(e.sequence), static_cast<long long>(e.time_us),
                  e.actor.short_hex().c_str(), std::string(audit_action_name(e.action)).c_str(),
                  e.records, e.detail.c_str());
    }
  }
}

ConsentScope scope_of(const ClientArgs& a) {
  ConsentScope scope;
  std::string rest = a.categories;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string name = rest.substr(0, comma);
    auto c = parse_category(name);
    if (!c) throw std::runtime_error("unknown category '" + name + "'");
    scope.categories |= static_cast<std::uint8_t>(1u << static_cast<unsigned>(*c));
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
  }
  if (a.types.size() > kMaxScopeContentTypes)
    throw std::runtime_error("at most " + std::to_string(kMaxScopeContentTypes) + " --type values");
  scope.content_types = a.types;
  return scope;
}

// A grantee is a key (64 hex digits) or a node's name: then the node's
// institution (and its staff) is the grantee.
PublicKey grantee_of(const Session& s, const std::string& name) {
  if (auto key = FixedBytes<32>::parse_hex(name)) return PublicKey{*key};
  return s.deployment.topology->node(find_node(s.deployment, name, NodeRole::kRecord)).key;
}

// Where the grantee opens sealed keys: a node's institution key from the
// topology, or --grantee-box.
std::optional<X25519Public> grantee_box(const Session& s, const ClientArgs& a) {
  if (!a.grantee_box.empty()) {
    auto key = FixedBytes<32>::parse_hex(a.grantee_box);
    if (!key) throw std::runtime_error("--grantee-box must be 64 hex digits");
    return X25519Public{*key};
  }
  if (FixedBytes<32>::parse_hex(a.grantee)) return std::nullopt;
  const NodeInfo& n =
      s.deployment.topology->node(find_node(s.deployment, a.grantee, NodeRole::kRecord));
  if (n.box_key.is_zero()) return std::nullopt;
  return n.box_key;
}

CLI::App* add_common(CLI::App& app, const char* name, const char* what, ClientArgs& a) {
  CLI::App* cmd = app.add_subcommand(name, what);
  cmd->add_option("--topology", a.topology, "the deployment's topology file")->required();
  cmd->add_option("--client-key", a.client_key,
                  "this client's key file: its CURVE key must be admitted by the node, its "
                  "signing key identifies the requester")
      ->required();
  cmd->add_option("--node", a.node, "record node name (e.g. net0.r1) or id")->required();
  cmd->add_option("--user", a.user, "patient: 64 hex digits, or a demo label")->required();
  cmd->add_option("--patient-key", a.patient_key, "the patient's key file (to act as the patient)");
  cmd->add_option("--institution-key", a.institution_key,
                  "the institution's key file, to open data keys shared with it");
  return cmd;
}

// Runs a command body, turning failures into a message and exit code 1.
template <class F>
void guarded(const char* name, F body) {
  int rc = 0;
  try {
    rc = body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mhr %s: %s\n", name, e.what());
    rc = 1;
  }
  if (rc != 0) throw CLI::RuntimeError(rc);
}

void add_register_submit_read(CLI::App& app, const std::shared_ptr<ClientArgs>& a) {
  CLI::App* reg =
      add_common(app, "register", "register a patient at a record node (as the patient)", *a);
  reg->callback([a] {
    guarded("register", [&] {
      Session s = open_session(*a);
      ClientReply r = call(s, RegisterUserRequest{s.user, {}}, patient_of(s));
      if (report(r) != 0) return 1;
      return report(share_data_key(s));
    });
  });

  CLI::App* sub =
      add_common(app, "submit", "create a record for a patient registered at the node", *a);
  sub->add_option("--type", a->type, "content type, e.g. a FHIR resource type");
  sub->add_option("--category", a->category, "medical, billing, insurance or administrative");
  sub->add_option("--data", a->data_file, "file with the payload");
  sub->add_option("--text", a->text, "the payload as text");
  sub->add_option("--blob", a->blob, "a file (an image, a PDF) to store off-chain");
  sub->add_flag("--as-patient", a->as_patient, "write as the patient, not as staff");
  sub->callback([a] {
    guarded("submit", [&] {
      auto category = parse_category(a->category);
      if (!category) throw std::runtime_error("unknown category '" + a->category + "'");
      Session s = open_session(*a);
      const AeadKey key = require_data_key(s, *a);
      if (!a->blob.empty()) {
        const OffChainRef ref = upload_blob(s, *a, key);
        return report(call_as(
            s, *a, SubmitRecordRequest{s.user, a->type, *category, {}, ref, std::nullopt, {}}));
      }
      SharedBytes sealed(seal_payload(key, s.user, payload_of(*a).view()));
      return report(call_as(
          s, *a,
          SubmitRecordRequest{
              s.user, a->type, *category, std::move(sealed), std::nullopt, std::nullopt, {}}));
    });
  });

  CLI::App* read = add_common(app, "read", "list the patient's records the requester may read", *a);
  read->add_flag("--json", a->json, "one JSON object per record");
  read->add_flag("--as-patient", a->as_patient, "read as the patient");
  read->callback([a] {
    guarded("read", [&] {
      Session s = open_session(*a);
      ClientReply r = call_as(s, *a, ReadUserRequest{s.user, {}});
      if (r.status != ReplyStatus::kOk) return report(r);
      print_records(r, data_key(s, *a, r.keys), a->json);
      return 0;
    });
  });
}

// Each record with whether its proof checks out: signed by its author,
// proven into a header signed by a quorum of its network's validators.
int print_proven(const ClientReply& r, const Session& s, const std::optional<AeadKey>& key,
                 bool json) {
  const Topology& t = *s.deployment.topology;
  const ProofProblems problems = read_proof_errors(r, t, verifier_for(t.params().crypto));
  print_records(r, key, json, &problems);
  const auto unproven = static_cast<std::size_t>(
      std::count_if(problems.begin(), problems.end(), [](const auto& p) { return p.has_value(); }));
  if (!json)
    std::printf("%zu records, %zu proven against signed headers\n", r.records.size(),
                r.records.size() - unproven);
  return unproven == 0 ? 0 : 1;
}

void add_consent_commands(CLI::App& app, const std::shared_ptr<ClientArgs>& a) {
  CLI::App* get = add_common(
      app, "get",
      "read the patient's records and check each one's proof (patient-side verification)", *a);
  get->add_flag("--json", a->json, "one JSON object per record");
  get->add_flag("--as-patient", a->as_patient, "read as the patient");
  get->add_option("--blob", a->blob, "fetch this off-chain object (its id) instead");
  get->add_option("--out", a->out, "where --blob writes the object");
  get->callback([a] {
    guarded("get", [&] {
      Session s = open_session(*a);
      if (!a->blob.empty()) return download_blob(s, *a);
      ClientReply r = call_as(s, *a, ReadUserRequest{s.user, {}});
      if (r.status != ReplyStatus::kOk) return report(r);
      return print_proven(r, s, data_key(s, *a, r.keys), a->json);
    });
  });

  CLI::App* grant = add_common(app, "grant", "the patient grants someone access", *a);
  grant->add_option("--grantee", a->grantee, "a key (64 hex digits) or a record node's name")
      ->required();
  grant->add_option("--categories", a->categories, "comma-separated categories (default all)");
  grant->add_option("--type", a->types, "only these content types (repeatable)");
  grant->add_option("--purpose", a->purpose, "why access is granted");
  grant->add_option("--grantee-box", a->grantee_box,
                    "the grantee's X25519 key (hex), to share the data key with a key grantee");
  grant->add_option("--days", a->days, "days until the grant expires")
      ->check(CLI::Range(0.0, 36500.0));
  grant->callback([a] {
    guarded("grant", [&] {
      Session s = open_session(*a);
      patient_of(s);  // only the patient grants
      const TimeUs now = wall_clock_us();
      ConsentGrant g{grantee_of(s, a->grantee),
                     scope_of(*a),
                     a->purpose,
                     now,
                     now + static_cast<TimeUs>(a->days * kUsPerDay),
                     std::nullopt};
      if (auto box = grantee_box(s, *a)) g.key = seal_data_key(data_key_of(*s.patient_seed), *box);
      PatientStatement st = statement(s, g);
      std::printf("grant %s\n", statement_id(st).hex().c_str());
      return report(call(s, PatientActRequest{st}, patient_of(s)));
    });
  });

  CLI::App* revoke = add_common(app, "revoke", "the patient revokes a grant", *a);
  revoke->add_option("--grant", a->grant, "the grant's id (64 hex digits)")->required();
  revoke->callback([a] {
    guarded("revoke", [&] {
      auto id = Hash::parse_hex(a->grant);
      if (!id) throw std::runtime_error("--grant must be 64 hex digits");
      Session s = open_session(*a);
      return report(
          call(s, PatientActRequest{statement(s, ConsentRevocation{*id})}, patient_of(s)));
    });
  });

  CLI::App* erase =
      add_common(app, "erase", "the patient has every wrapped data key destroyed everywhere", *a);
  erase->callback([a] {
    guarded("erase", [&] {
      Session s = open_session(*a);
      return report(call(s, PatientActRequest{statement(s, Erasure{})}, patient_of(s)));
    });
  });

  CLI::App* audit =
      add_common(app, "audit", "who read the patient's records here, and who was refused", *a);
  audit->add_flag("--json", a->json, "one JSON object per entry");
  audit->add_flag("--as-patient", a->as_patient, "ask as the patient");
  audit->callback([a] {
    guarded("audit", [&] {
      Session s = open_session(*a);
      ClientReply r = call_as(s, *a, AuditRequest{s.user, {}});
      if (r.status != ReplyStatus::kOk) return report(r);
      print_audit(r, a->json);
      return 0;
    });
  });
}

// Each node's answer to a status query: "name: idle", "name: <work in
// flight>" or "name: no answer"; true when every node asked is idle.
bool print_status(const Deployment& d, const CurveKeyPair& keys, const std::string& only) {
  bool idle = true;
  bool found = only.empty();
  for (const NodeInfo& n : d.topology->nodes()) {
    if (!only.empty() && n.name != only && std::to_string(n.id.value) != only) continue;
    found = true;
    const NodeAddress& addr = d.address[n.id.value];
    std::string line;
    try {
      ZmqClient client(addr.endpoint, addr.curve_z85, keys);
      const std::string work = client.work_in_flight(kStatusTimeoutUs);
      line = work.empty() ? "idle" : work;
      idle = idle && work.empty();
    } catch (const std::runtime_error&) {
      line = "no answer (down, or this client's key is not admitted)";
      idle = false;
    }
    std::printf("%s: %s\n", n.name.c_str(), line.c_str());
  }
  if (!found) throw std::runtime_error("no node '" + only + "' in the topology");
  return idle;
}

void add_status(CLI::App& app, const std::shared_ptr<ClientArgs>& a) {
  CLI::App* cmd = app.add_subcommand(
      "status", "what work each node still has in flight (exit 0 when every node is idle)");
  cmd->add_option("--topology", a->topology, "the deployment's topology file")->required();
  cmd->add_option("--client-key", a->client_key,
                  "this client's key file: its CURVE key must be admitted by the nodes")
      ->required();
  cmd->add_option("--node", a->node, "only this node (name or id)");
  cmd->callback([a] {
    guarded("status", [&] {
      const Deployment d = load_deployment(a->topology);
      return print_status(d, load_key_file(a->client_key).curve, a->node) ? 0 : 1;
    });
  });
}

}  // namespace

void add_client_commands(CLI::App& app) {
  auto a = std::make_shared<ClientArgs>();
  add_register_submit_read(app, a);
  add_consent_commands(app, a);
  add_status(app, a);
}

}  // namespace mhr
