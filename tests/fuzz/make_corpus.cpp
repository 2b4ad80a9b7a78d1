// Writes the seed corpus of the fuzz targets: one valid encoding of every
// message and stored structure (messages/), valid verification cases signed
// with the fuzz deployment's keys (verify/), and the project's scenarios
// with a deployment, node and key file (config/), and requests to the FHIR
// gateway (fhir/): the third-party patient bundles as their transactions,
// and small resources, searches, Consents and errors. Deterministic: the
// same build writes the same files.
//   make_corpus OUT_DIR SCENARIO_DIR FHIR_BUNDLE_DIR
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/chain_store.hpp"
#include "common/client_codec.hpp"
#include "common/message_bundle.hpp"
#include "common/messages.hpp"
#include "common/net/deployment.hpp"
#include "common/verification.hpp"
#include "consensus_node/block_body.hpp"
#include "edge_node/fhir/consent_mapping.hpp"
#include "edge_node/fhir/ids.hpp"
#include "tests/fhir/sample_bundle.hpp"
#include "tests/fhir/third_party_bundle.hpp"
#include "tests/fuzz/fuzz_case.hpp"
#include "tests/fuzz/fuzz_topology.hpp"

using namespace mhr;
namespace fs = std::filesystem;

namespace {

// A fixed, distinct CURVE public key per node.
std::string fixed_curve_key(std::size_t i) {
  std::array<std::uint8_t, 32> raw;
  raw.fill(static_cast<std::uint8_t>(i + 1));
  return z85_curve_key(raw);
}

void write_file(const fs::path& path, ByteView bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

void write_case(const fs::path& dir, const std::string& name, std::uint8_t selector,
                ByteView body) {
  Bytes b{selector};
  b.insert(b.end(), body.begin(), body.end());
  write_file(dir / name, b);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A block of network 0: three records of one user and a registration,
// signed by the fuzz deployment's keys of `mode`.
struct SampleBlock {
  SignedHeader header;
  std::vector<ProvenEntry> entries;
  BlockHeader prev;
};

SampleBlock sample_block(CryptoMode mode) {
  const auto& d = fuzz::fuzz_deployment(mode);
  const NetworkInfo& net = d.topology.network(NetworkId{0});
  const NodeId author = net.record_nodes.at(0);
  const Signer& author_key = *d.signers.at(author.value);
  UserId user;
  user.bytes.fill(0x42);

  std::vector<Entry> entries;
  Hash prev_hash;
  for (std::uint64_t seq = 0; seq < 3; ++seq) {
    Record r;
    r.user = user;
    r.network = net.id;
    r.author_node = author;
    r.author_key = author_key.public_key();
    r.sequence = seq;
    r.prev_hash = prev_hash;
    r.created_at_us = 1'000'000 + static_cast<TimeUs>(seq);
    r.content_type = "Observation";
    r.category = static_cast<Category>(seq % kCategoryCount);
    if (seq == 1) {
      r.off_chain = OffChainRef{sha256(as_bytes("image")), 123'456};
    } else {
      r.payload = SharedBytes(as_bytes("{\"resourceType\":\"Observation\"}"));
    }
    if (seq == 2) r.supersedes = prev_hash;
    sign_record(r, author_key);
    prev_hash = record_hash(r);
    entries.emplace_back(std::move(r));
  }
  Registration reg{user, net.id, author, author_key.public_key(), 999, {}};
  sign_registration(reg, author_key);
  entries.emplace_back(reg);

  std::vector<Hash> leaves;
  for (const Entry& e : entries) leaves.push_back(entry_hash(e));
  const MerkleTree tree(leaves);
  SampleBlock b;
  b.prev = BlockHeader{net.id, 0, {}, merkle_root({}), 0, 500, net.consensus_nodes.at(0), Hash{}};
  b.header.header =
      BlockHeader{net.id, 1,         header_hash(b.prev),       tree.root(),
                  4,      1'000'100, net.consensus_nodes.at(0), sha256(as_bytes("placement"))};
  for (NodeId c : net.consensus_nodes) add_signature(b.header, c, *d.signers.at(c.value));
  for (std::size_t i = 0; i < entries.size(); ++i)
    b.entries.push_back(ProvenEntry{entries[i], tree.prove(i)});
  return b;
}

// Selector bytes of fuzz_messages.cpp's decoders.
enum MessageSelector : std::uint8_t {
  kMessage = 0,
  kRequestFrame,
  kReplyFrame,
  kRecord,
  kSignedHeader,
  kBlockHeader,
  kEntry,
  kProvenEntry,
  kMerkleProof,
  kRecordPlace,
  kRegistration,
  kOffChainRef,
  kBlockBody,
  kBundle,
  kIndexBody,
};

void messages_corpus(const fs::path& dir) {
  const SampleBlock b = sample_block(CryptoMode::kReal);
  const Record& rec = std::get<Record>(b.entries[0].entry);
  const Record& off = std::get<Record>(b.entries[1].entry);
  const Registration& reg = std::get<Registration>(b.entries[3].entry);
  const Hash h = record_hash(rec);
  std::vector<Message> messages = {
      StoreRequest{rec},
      PresenceQuery{rec.user, h},
      PresenceFlag{rec.user, h, true},
      TxRequest{reg},
      Committed{{h, record_hash(off)}},
      Rejected{h, RejectReason::kStaleChainTip, ChainTip{4, h}},
      Rejected{h, RejectReason::kNotRegistered, std::nullopt},
      BlockDelivery{b.header, b.entries, NodeId{2}},
      BlockDelivery{b.header, {}, std::nullopt},
      DeliveryAck{NetworkId{0}, 1, header_hash(b.header.header)},
      CatchUpRequest{NetworkId{1}, 7},
      MembershipUpdate{NetworkId{1}, {rec.user, reg.user}},
      RemotePresence{rec.user, true},
      HistoryRequest{
          9, rec.user, {{NetworkId{0}, 1}, {NetworkId{1}, 3}}, {NodeId{2}, NodeId{5}}, true},
      HistoryBatch{9,
                   rec.user,
                   {b.header},
                   {{rec, 0, b.entries[0].proof}, {off, 0, b.entries[1].proof}},
                   false,
                   {NodeId{2}}},
      Ack{h},
      BlobRequest{3, rec.user, h, kManifestPart, {NodeId{2}, NodeId{5}}, true},
      BlobPart{3, h, 1, true, SharedBytes(Bytes(300, 9)), {NodeId{2}}},
      Proposal{2, b.header.header, SharedBytes(Bytes(64, 3)), b.header.signatures.at(0).signature,
               1},
      Vote{VotePhase::kCommit, 2, 1, header_hash(b.header.header),
           b.header.signatures.at(0).signature},
      ViewChange{3, NodeId{1}, b.header, PreparedCert{2, b.header.header, b.header.signatures},
                 b.header.signatures.at(0).signature, SharedBytes(Bytes(32, 4))},
      NewView{3,
              {ViewChange{
                  3, NodeId{1}, b.header, std::nullopt, b.header.signatures.at(0).signature, {}}}},
      BlockFetch{4, 2},
      CommittedBlock{b.header, SharedBytes(Bytes(64, 3))},
      Forwarded{NodeId{2}, SharedBytes(encode(Message{StoreRequest{rec}}))},
      IndexSubmit{{Membership{rec.user, NetworkId{1}, NodeId{2}, {b.header, b.entries.at(0)}},
                   Anchor{NetworkId{1}, 7, header_hash(b.header.header)}}},
      CommittedTip{NetworkId{1}, 52},
  };
  for (std::size_t i = 0; i < messages.size(); ++i)
    write_case(dir,
               "message-" + std::to_string(i) + "-" + std::string(message_type_name(messages[i])),
               kMessage, encode(messages[i]));

  const Credential by{rec.author_key, 1'700'000'000'000'000, 42, rec.signature};
  SubmitRecordRequest submit{
      rec.user, "Observation", Category::kBilling, SharedBytes(as_bytes("{}")), std::nullopt, h,
      by};
  SubmitRecordRequest submit_off{rec.user,     "Media", Category::kMedical, {}, off.off_chain,
                                 std::nullopt, by};
  write_case(dir, "request-register", kRequestFrame,
             encode(ClientRequestFrame{1, RegisterUserRequest{rec.user, by}}));
  write_case(dir, "request-submit", kRequestFrame, encode(ClientRequestFrame{2, submit}));
  write_case(dir, "request-submit-off-chain", kRequestFrame,
             encode(ClientRequestFrame{3, submit_off}));
  write_case(dir, "request-read", kRequestFrame,
             encode(ClientRequestFrame{4, ReadUserRequest{rec.user, by}}));
  write_case(dir, "request-audit", kRequestFrame,
             encode(ClientRequestFrame{6, AuditRequest{rec.user, by}}));
  const BlobManifest manifest{kBlobChunkBytes + 10, {h, h}};
  write_case(dir, "request-put-blob", kRequestFrame,
             encode(ClientRequestFrame{8, PutBlobRequest{rec.user, blob_id(manifest), kManifestPart,
                                                         SharedBytes(encode(manifest)), by}}));
  write_case(dir, "request-read-blob", kRequestFrame,
             encode(ClientRequestFrame{9, ReadBlobRequest{rec.user, h, 1, by}}));
  PatientStatement grant{rec.user,
                         rec.author_key,
                         5,
                         6,
                         ConsentGrant{rec.author_key, ConsentScope::all(), "care", 1, 2,
                                      WrappedKey{X25519Public{}, Bytes(92, 7)}},
                         rec.signature};
  write_case(dir, "request-patient-act", kRequestFrame,
             encode(ClientRequestFrame{7, PatientActRequest{grant}}));
  ClientReply read_reply = make_reply(ReplyStatus::kOk, "");
  read_reply.records = {rec, off};
  read_reply.keys = {WrappedKey{X25519Public{}, Bytes(92, 1)}};
  write_case(dir, "reply-read", kReplyFrame, encode(ClientReplyFrame{4, read_reply}));
  ClientReply blob_reply = make_reply(ReplyStatus::kOk, "patient");
  blob_reply.blob_part = SharedBytes(encode(manifest));
  write_case(dir, "reply-blob", kReplyFrame, encode(ClientReplyFrame{9, blob_reply}));
  ClientReply audit_reply = make_reply(ReplyStatus::kOk, "");
  audit_reply.audit = {
      AuditEntry{3, h, 9, rec.author_key, rec.user, AuditAction::kRefused, 0, "no consent"}};
  write_case(dir, "reply-audit", kReplyFrame, encode(ClientReplyFrame{8, audit_reply}));
  write_case(
      dir, "reply-rejected", kReplyFrame,
      encode(ClientReplyFrame{5, make_reply(ReplyStatus::kRejected, "user is not registered", h)}));

  write_case(dir, "record", kRecord, encode(rec));
  write_case(dir, "record-off-chain", kRecord, encode(off));
  write_case(dir, "signed-header", kSignedHeader, encode(b.header));
  write_case(dir, "block-header", kBlockHeader, encode(b.header.header));
  write_case(dir, "entry-record", kEntry, encode(Entry{rec}));
  write_case(dir, "entry-registration", kEntry, encode(Entry{reg}));
  write_case(dir, "proven-entry", kProvenEntry, encode(b.entries[2]));
  write_case(dir, "merkle-proof", kMerkleProof, encode(b.entries[1].proof));
  write_case(dir, "record-place", kRecordPlace,
             encode(RecordPlace{NetworkId{0}, 1, b.entries[0].proof}));
  write_case(dir, "registration", kRegistration, encode(reg));
  write_case(dir, "off-chain-ref", kOffChainRef, encode(*off.off_chain));
  std::vector<PlacedEntry> body;
  for (const ProvenEntry& pe : b.entries)
    body.push_back({pe.entry, entry_hash(pe.entry), NodeId{1}, {NodeId{1}, NodeId{2}}});
  write_case(dir, "block-body", kBlockBody, encode_block_body(body));
  BundleWriter bundle(1 << 20);
  bundle.add(encode(Message{StoreRequest{rec}}));
  bundle.add(encode(Message{BlockDelivery{b.header, b.entries, NodeId{2}}}));
  write_case(dir, "bundle", kBundle, bundle.take());
  write_case(
      dir, "index-body", kIndexBody,
      encode_index_body({Membership{rec.user, NetworkId{0}, NodeId{1}, {b.header, b.entries.at(0)}},
                         Anchor{NetworkId{0}, 3, header_hash(b.header.header)}}));
}

void verify_corpus(const fs::path& dir) {
  for (CryptoMode mode : {CryptoMode::kReal, CryptoMode::kModeled}) {
    const SampleBlock b = sample_block(mode);
    const std::string m(crypto_mode_name(mode));
    for (std::size_t i = 0; i < b.entries.size(); ++i) {
      fuzz::VerifyCase c{mode, b.header, b.entries[i], std::nullopt};
      // Seeds must pass every check, so that mutations start deep inside them.
      const Topology& topology = fuzz::fuzz_deployment(mode).topology;
      if (header_error(c.header, topology, verifier_for(mode)) ||
          entry_error(c.entry, c.header.header, topology, verifier_for(mode))) {
        std::fprintf(stderr, "make_corpus: a generated verification case does not verify\n");
        std::exit(1);
      }
      if (i == 0) c.prev = b.prev;
      write_file(dir / ("case-" + m + "-" + std::to_string(i)), fuzz::encode_verify_case(c));
    }
  }
  Bytes leaves{fuzz::kLeavesCaseTag};
  for (std::uint8_t i = 0; i < 7; ++i) {
    const Hash h = sha256(Bytes{i});
    leaves.insert(leaves.end(), h.bytes.begin(), h.bytes.end());
  }
  write_file(dir / "leaves-7", leaves);
}

// Selector bytes of fuzz_config.cpp's loaders.
enum ConfigSelector : std::uint8_t { kScenario = 0, kDeployment, kNodeFile, kKeyFile, kOverride };

void config_corpus(const fs::path& dir, const fs::path& scenarios) {
  for (const auto& e : fs::directory_iterator(scenarios)) {
    if (e.path().extension() != ".yaml") continue;
    const std::string text = read_text(e.path());
    write_case(dir, "scenario-" + e.path().stem().string(), kScenario, as_bytes(text));
  }
  write_case(dir, "override", kOverride,
             as_bytes(std::string("workload.users=5\n") + read_text(scenarios / "tiny.yaml")));

  const fs::path tmp = fs::temp_directory_path() / "mhr-make-corpus";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  const auto& d = fuzz::fuzz_deployment(CryptoMode::kReal);
  std::vector<NodeAddress> address;
  for (std::size_t i = 0; i < d.topology.node_count(); ++i)
    address.push_back({"tcp://127.0.0.1:" + std::to_string(7000 + i), fixed_curve_key(i)});
  write_deployment((tmp / "topology.yaml").string(), d.topology, address);
  NodeConfig node;
  node.id = NodeId{1};
  node.key_file = "node1.key";
  node.listen = "tcp://0.0.0.0:7001";
  node.data_dir = "data";
  node.topology_file = "topology.yaml";
  node.client_keys = {"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"};
  write_node_config((tmp / "node.yaml").string(), node);
  NodeKeys keys;
  keys.sign_seed.bytes.fill(7);
  keys.curve = {"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
                "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"};
  write_key_file((tmp / "node1.key").string(), keys);
  write_case(dir, "deployment", kDeployment, as_bytes(read_text(tmp / "topology.yaml")));
  write_case(dir, "node-file", kNodeFile, as_bytes(read_text(tmp / "node.yaml")));
  write_case(dir, "key-file", kKeyFile, as_bytes(read_text(tmp / "node1.key")));
  fs::remove_all(tmp);
}

// Requests in fuzz_fhir.cpp's form: "METHOD path" then the body, requests
// separated by "\n---\n"; {patient}, {practitioner} and {observation} name
// the fixture's resources.
void fhir_corpus(const fs::path& dir, const fs::path& bundles) {
  using fhir::Json;
  auto write = [&](const std::string& name, const std::vector<std::string>& requests) {
    std::string text;
    for (const std::string& r : requests) text += (text.empty() ? "" : "\n---\n") + r;
    write_file(dir / name, as_bytes(text));
  };
  auto post = [](const std::string& path, const Json& body) {
    return "POST " + path + "\n" + body.dump();
  };
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(bundles))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    auto b = fhir::test::as_transaction(Json::parse(read_text(f)));
    if (!b) continue;
    fhir::test::point_at_patient(*b, "Patient/{patient}");
    write("bundle-" + f.stem().string(), {post("", b->transaction)});
  }
  write("bundle-sample", {post("", fhir::test::patient_bundle(3, 2))});
  write("batch-sample", {post("", fhir::test::patient_bundle(4, 1, "batch"))});

  const Json subject = {{"reference", "Patient/{patient}"}};
  const Json obs = {
      {"resourceType", "Observation"},
      {"status", "final"},
      {"code", fhir::test::coding("http://loinc.org", "29463-7", "Body Weight")},
      {"subject", subject},
      {"effectivePeriod", {{"start", "2021-03-04T09:30:00+01:00"}, {"end", "2021-03"}}},
      {"valueQuantity", {{"value", 72.4}, {"unit", "kg"}}}};
  Json updated = obs;
  updated["id"] = "{observation}";
  write("create-read", {post("Observation", obs), "GET Observation/{observation}",
                        "GET Observation/{observation}/_history/0.2"});
  write("update-history", {"PUT Observation/{observation}\n" + updated.dump(),
                           "GET Observation/{observation}/_history"});
  write("create-patient",
        {post("Patient", {{"resourceType", "Patient"}, {"birthDate", "1980-01-01"}}),
         "PUT Patient/{patient}\n" +
             Json{{"resourceType", "Patient"}, {"id", "{patient}"}, {"gender", "female"}}.dump()});
  write("search", {"GET Observation?patient={patient}&date=ge2020-01-01&date=lt2022&_count=1",
                   "GET Patient/{patient}/$everything?_type=Observation,Practitioner&start=2020",
                   "GET Observation?subject=Patient/{patient}&_offset=1&_count=0"});
  write("errors", {"POST Observation\n{\"resourceType\": \"Observation\", \"status\": \"final\"}",
                   "DELETE Observation/{observation}", "GET Spaceship/1",
                   "POST Observation\n{\"resourceType\": [1, {\"a\": "});
  write("external", {"!POST Observation\n" + obs.dump(), "!GET Patient/{patient}/$everything"});

  auto consent = [&](Json actor, const char* type = "permit",
                     const char* scope = "patient-privacy") {
    Json provision = {{"type", type},
                      {"period", {{"start", "2024-01-01"}, {"end", "2030"}}},
                      {"actor", Json::array({{{"reference", std::move(actor)}}})}};
    if (std::string(type) == "permit")  // a deny revokes whole grants
      provision["class"] = Json::array({{{"system", fhir::kCategorySystem}, {"code", "medical"}}});
    return Json{
        {"resourceType", "Consent"},
        {"status", "active"},
        {"scope",
         {{"coding", Json::array({{{"system", fhir::kConsentScopeSystem}, {"code", scope}}})}}},
        {"patient", subject},
        {"provision", std::move(provision)}};
  };
  const Json by_key = {
      {"identifier", {{"system", fhir::kApiKeyActorSystem}, {"value", "dr-outside"}}}};
  write("consent-practitioner",
        {post("Consent", consent({{"reference", "Practitioner/{practitioner}"}})),
         "!GET Observation/{observation}",
         post("Consent", consent({{"reference", "Practitioner/{practitioner}"}}, "deny"))});
  write("consent-identifier",
        {post("Consent", consent(by_key)), "!GET Patient/{patient}/$everything"});
  write("consent-treatment", {post("Consent", consent(Json::object(), "permit", "treatment"))});
  Json org = {
      {"resourceType", "Organization"},
      {"identifier", Json::array({{{"system", fhir::kNodeActorSystem}, {"value", "net1.r0"}}})}};
  Json with_org = {
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry",
       Json::array(
           {{{"resource", consent({{"reference", "urn:uuid:org"}})},
             {"request", {{"method", "POST"}, {"url", "Consent"}}}},
            {{"fullUrl", "urn:uuid:org"},
             {"resource", org},
             {"request", {{"method", "POST"}, {"url", "Organization"}}}},
            {{"resource", obs}, {"request", {{"method", "POST"}, {"url", "Observation"}}}},
            {{"request", {{"method", "GET"}, {"url", "Patient/{patient}/$everything"}}}}})}};
  write("bundle-consent", {post("", with_org)});
}

// Single resources for fuzz_fhir_resource.cpp: the first resource of each
// type in every vendored bundle, and resources naming a patient of this
// server (an Observation, a Consent).
void fhir_resource_corpus(const fs::path& dir, const fs::path& bundles) {
  using fhir::Json;
  constexpr std::size_t kMaxResourceSeedBytes = 16384;  // tests/fuzz/run.sh's -max_len
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(bundles))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    const Json bundle = Json::parse(read_text(f), nullptr, false);
    if (!bundle.is_object() || !bundle.contains("entry") || !bundle["entry"].is_array()) continue;
    std::set<std::string> types;
    for (const Json& entry : bundle["entry"]) {
      if (!entry.is_object() || !entry.contains("resource")) continue;
      const Json& r = entry["resource"];
      if (!r.is_object() || !r.contains("resourceType") || !r["resourceType"].is_string()) continue;
      const std::string type = r["resourceType"].get<std::string>();
      const std::string text = r.dump();
      if (text.size() > kMaxResourceSeedBytes || !types.insert(type).second) continue;
      write_file(dir / (f.stem().string() + "-" + type), as_bytes(text));
    }
  }
  UserId user;
  user.bytes[0] = 0x42;
  const Json subject = {{"reference", "Patient/" + fhir::patient_id(user)}};
  const Json obs = {
      {"resourceType", "Observation"},
      {"status", "final"},
      {"code", fhir::test::coding("http://loinc.org", "29463-7", "Body Weight")},
      {"subject", subject},
      {"performer",
       Json::array({{{"reference", "urn:uuid:00000000-0000-0000-0000-000000000002"}}})},
      {"effectivePeriod", {{"start", "2021-03-04T09:30:00+01:00"}, {"end", "2021-03"}}},
      {"valueQuantity", {{"value", 72.4}, {"unit", "kg"}}}};
  write_file(dir / "observation-own-patient", as_bytes(obs.dump()));
  const Json consent = {
      {"resourceType", "Consent"},
      {"status", "active"},
      {"scope",
       {{"coding",
         Json::array({{{"system", fhir::kConsentScopeSystem}, {"code", "patient-privacy"}}})}}},
      {"patient", subject},
      {"provision",
       {{"type", "permit"},
        {"period", {{"start", "2024-01-01"}, {"end", "2030"}}},
        {"class", Json::array({{{"system", fhir::kCategorySystem}, {"code", "medical"}}})},
        {"actor",
         Json::array({{{"reference",
                        {{"identifier",
                          {{"system", fhir::kApiKeyActorSystem}, {"value", "dr-outside"}}}}}}})}}}};
  write_file(dir / "consent-own-patient", as_bytes(consent.dump()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: make_corpus OUT_DIR SCENARIO_DIR FHIR_BUNDLE_DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  messages_corpus(out / "messages");
  verify_corpus(out / "verify");
  config_corpus(out / "config", argv[2]);
  fhir_corpus(out / "fhir", argv[3]);
  fhir_resource_corpus(out / "fhir_resource", argv[3]);
  std::printf("corpus written to %s\n", argv[1]);
  return 0;
}
