// Consent end to end in the simulator: a grant made in one network is
// honoured in another after the patient migrates there (authorisation
// reuse), revocation is honoured everywhere, refusals are audited, and the
// audit chain is anchored in blocks so tampering with it shows.
#include <doctest/doctest.h>

#include <algorithm>

#include "common/audit_log.hpp"
#include "common/client_codec.hpp"
#include "common/read_proof.hpp"
#include "edge_node/record_node.hpp"
#include "flow_harness.hpp"
#include "tools/sim/run.hpp"
#include "tools/sim/workload.hpp"
#include "tools/verify/verify.hpp"

using namespace mhr;

namespace {

const char* kScenario = R"(
duration: 16s
crypto: real
topology: {networks: 2, record_nodes: 2}
workload:
  users: 2
  record_rate: 20
  start: 1s
  stop: 9s
  categories: {medical: 0.5, billing: 0.5}
  pinned:
    - {user: 0, nodes: [net0.r0], at: 0.1s}
    - {user: 1, nodes: [net1.r1], at: 0.2s}
  migrations:
    explicit:
      - {at: 5s, user: 0, to: net1.r0}
)";

constexpr std::uint64_t kSeed = 5;

// The consent flows' run: the scenario above, requests of the test's own.
class ConsentRun : public test::ClientRun {
 public:
  ConsentRun() : ClientRun(kScenario, kSeed) {}
};

ConsentScope medical() {
  return {static_cast<std::uint8_t>(1u << static_cast<unsigned>(Category::kMedical)), {}};
}

}  // namespace

TEST_CASE(
    "consent flow: a grant made in network 0 is honoured in network 1 after migration, "
    "revocation everywhere, refusals audited") {
  ConsentRun run;
  const auto patient = patient_signer(0, CryptoMode::kReal);
  const UserId user = user_id_of(patient->public_key());
  const auto hospital_b = run.institution("net1.r0");  // where the patient moves
  const auto hospital_c = run.institution("net1.r1");  // never granted anything
  const auto stranger = make_signer(CryptoMode::kReal, SecretSeed{sha256(as_bytes("stranger"))});

  ClientReply granted, read_before, read_after_move, read_by_c, read_by_stranger, revoked,
      read_after_revoke, grantee_at_a, grantee_at_a_after, patient_read, audit_b, audit_by_c;
  // Before the move the grantee (hospital B's institution key) reads at A.
  run.act(4.5 * kUsPerSecond, "net0.r0", *patient,
          ConsentGrant{hospital_b->public_key(), medical(), "follow-up", 0, 100 * kUsPerSecond,
                       std::nullopt},
          granted);
  run.ask(6 * kUsPerSecond, "net0.r0", ReadUserRequest{user, {}}, *hospital_b, grantee_at_a);
  // After the move, B's staff read at B: the grant made at A holds there.
  run.ask(10 * kUsPerSecond, "net1.r0", ReadUserRequest{user, {}}, *hospital_b, read_after_move);
  run.ask(10 * kUsPerSecond, "net1.r0", ReadUserRequest{user, {}}, *hospital_c, read_by_c);
  run.ask(10 * kUsPerSecond, "net1.r0", ReadUserRequest{user, {}}, *stranger, read_by_stranger);
  run.ask(10 * kUsPerSecond, "net1.r0", ReadUserRequest{user, {}}, *patient, patient_read);
  Hash grant_id;
  run.world().at(10.5 * kUsPerSecond, [&] { grant_id = statement_id(*run.last_statement); });
  // Revoked at B; honoured at A as well once the revocation got there.
  run.world().at(11 * kUsPerSecond, [&] {
    PatientStatement s{user, patient->public_key(),       run.world().now(),
                       999,  ConsentRevocation{grant_id}, {}};
    sign_statement(s, *patient);
    run.world().submit(run.node("net1.r0"), PatientActRequest{s},
                       [&](const ClientReply& r) { revoked = r; });
  });
  run.ask(14 * kUsPerSecond, "net1.r0", ReadUserRequest{user, {}}, *hospital_b, read_after_revoke);
  run.ask(14 * kUsPerSecond, "net0.r0", ReadUserRequest{user, {}}, *hospital_b, grantee_at_a_after);
  run.ask(15 * kUsPerSecond, "net1.r0", AuditRequest{user, {}}, *patient, audit_b);
  // A billing-only grant to a visiting clinician that expires at 15.4 s:
  // honoured before (billing records only), refused after (after the audit
  // above was read).
  const auto visitor = make_signer(CryptoMode::kReal, SecretSeed{sha256(as_bytes("visitor"))});
  ClientReply granted_c, c_before_expiry, c_after_expiry;
  run.act(
      14.5 * kUsPerSecond, "net1.r0", *patient,
      ConsentGrant{visitor->public_key(),
                   {static_cast<std::uint8_t>(1u << static_cast<unsigned>(Category::kBilling)), {}},
                   "claims review",
                   0,
                   15'400 * kUsPerMs,
                   std::nullopt},
      granted_c);
  run.ask(15.2 * kUsPerSecond, "net1.r0", ReadUserRequest{user, {}}, *visitor, c_before_expiry);
  run.ask(15.6 * kUsPerSecond, "net1.r0", ReadUserRequest{user, {}}, *visitor, c_after_expiry);

  // Nodes store ciphertext only: a payload not framed as sealed is refused.
  const auto hospital_a = run.institution("net0.r0");
  ClientReply plaintext;
  run.ask(3 * kUsPerSecond, "net0.r0",
          SubmitRecordRequest{user,
                              "Observation",
                              Category::kMedical,
                              SharedBytes(as_bytes("{\"glucose\": 7.2}")),
                              std::nullopt,
                              std::nullopt,
                              {}},
          *hospital_a, plaintext);
  run.ask(15 * kUsPerSecond, "net1.r0", AuditRequest{user, {}}, *hospital_c, audit_by_c);
  RunSummary summary = run.run();
  INFO("seed " << kSeed);
  CHECK(summary.violations == 0);

  CHECK_MESSAGE(granted.status == ReplyStatus::kOk, granted.detail);
  CHECK(plaintext.status == ReplyStatus::kRejected);
  CHECK(plaintext.detail.find("encrypted only") != std::string::npos);
  REQUIRE_MESSAGE(patient_read.status == ReplyStatus::kOk, patient_read.detail);
  std::size_t medical_records = 0, others = 0;
  for (const Record& r : patient_read.records)
    (r.category == Category::kMedical ? medical_records : others) += 1;
  REQUIRE(medical_records > 0);
  REQUIRE(others > 0);

  // Patient-side verification: every record the patient got is proven into
  // a header its network's consensus signed; any change shows.
  {
    const Verifier& v = ed25519_verifier();
    for (const auto& problem : read_proof_errors(patient_read, run.topology(), v))
      CHECK_FALSE(problem);
    ClientReply forged = patient_read;
    forged.records[0].content_type = "Forged";
    CHECK(read_proof_errors(forged, run.topology(), v)[0]);
    ClientReply bad_header = patient_read;
    REQUIRE_FALSE(bad_header.headers.empty());
    bad_header.headers[0].header.time_us += 1;
    bool some_unproven = false;
    for (const auto& problem : read_proof_errors(bad_header, run.topology(), v))
      some_unproven |= problem.has_value();
    CHECK(some_unproven);
    ClientReply no_proofs = patient_read;
    no_proofs.proofs.clear();
    CHECK(read_proof_errors(no_proofs, run.topology(), v)[0]);
  }

  // At A before the move: the grantee sees exactly the medical records.

  CHECK(grantee_at_a.status == ReplyStatus::kOk);
  CHECK(grantee_at_a.detail == "grantee");
  for (const Record& r : grantee_at_a.records) CHECK(r.category == Category::kMedical);

  // At B after the move: B's institution holds the grant made at A, so it
  // reads every medical record, also those A wrote, and nothing else.
  REQUIRE_MESSAGE(read_after_move.status == ReplyStatus::kOk, read_after_move.detail);
  CHECK(read_after_move.detail == "staff");
  std::size_t written_by_a = 0;
  for (const Record& r : read_after_move.records) {
    CHECK((r.category == Category::kMedical || r.author_node == run.node("net1.r0")));
    CHECK_FALSE(is_patient_act(r));
    written_by_a += r.author_node == run.node("net0.r0");
  }
  CHECK(written_by_a > 0);

  // Expiry takes effect without anyone revoking.
  CHECK_MESSAGE(granted_c.status == ReplyStatus::kOk, granted_c.detail);
  CHECK(c_before_expiry.status == ReplyStatus::kOk);
  CHECK(c_before_expiry.detail == "grantee");
  CHECK_FALSE(c_before_expiry.records.empty());
  for (const Record& r : c_before_expiry.records) CHECK(r.category == Category::kBilling);
  CHECK(c_after_expiry.status == ReplyStatus::kDenied);

  // Nobody else reads, and every refusal is audited.

  CHECK(read_by_c.status == ReplyStatus::kDenied);
  CHECK(read_by_stranger.status == ReplyStatus::kDenied);
  CHECK(read_by_stranger.records.empty());

  // Revoked: B's staff read only what B wrote; at A the grantee is refused.
  CHECK_MESSAGE(revoked.status == ReplyStatus::kOk, revoked.detail);
  REQUIRE(read_after_revoke.status == ReplyStatus::kOk);
  for (const Record& r : read_after_revoke.records) CHECK(r.author_node == run.node("net1.r0"));
  CHECK(grantee_at_a_after.status == ReplyStatus::kDenied);

  // The audit at B lists the reads and refusals, for the patient only.
  REQUIRE(audit_b.status == ReplyStatus::kOk);
  std::map<AuditAction, int> actions;
  for (const AuditEntry& e : audit_b.audit) ++actions[e.action];
  CHECK(actions[AuditAction::kRead] == 3);     // B twice, the patient once
  CHECK(actions[AuditAction::kRefused] == 2);  // C and the stranger
  CHECK(actions[AuditAction::kRevoke] == 1);
  CHECK(audit_by_c.status == ReplyStatus::kDenied);

  // The audit chain is anchored in a block, and verifies against it.
  const Store& b_store = run.store("net1.r0");
  const AuditLog& log = run.record_node("net1.r0").audit();
  REQUIRE(log.last_anchored().has_value());
  CHECK(*log.last_anchored() >= 5);  // entries of the last second may await their anchor

  CHECK_FALSE(audit_chain_error(b_store, &run.topology(), ed25519_verifier()));
}

TEST_CASE("consent flow: an anchored audit entry that is edited or removed is detected") {
  ConsentRun run;
  const auto patient = patient_signer(0, CryptoMode::kReal);
  const UserId user = user_id_of(patient->public_key());
  const auto stranger = make_signer(CryptoMode::kReal, SecretSeed{sha256(as_bytes("stranger"))});
  std::vector<ClientReply> replies(6);
  for (int i = 0; i < 6; ++i)
    run.ask((2 + i) * kUsPerSecond, "net0.r0", ReadUserRequest{user, {}},
            i % 2 ? *patient : *stranger, replies[i]);
  CHECK(run.run().violations == 0);
  Store& store = run.world().store_of(run.node("net0.r0"));
  const AuditLog& log = run.record_node("net0.r0").audit();
  REQUIRE(log.head().has_value());
  REQUIRE(log.last_anchored() == log.head()->first);
  REQUIRE_FALSE(audit_chain_error(store, &run.topology(), ed25519_verifier()));

  // Removing the newest entries and rewriting the rest consistently still
  // fails: the anchor in the block names the old head.
  std::vector<AuditEntry> kept = log.for_user(user, 100);
  REQUIRE(kept.size() == 6);
  Bytes last{'e'};
  append_be64(last, log.head()->first);
  WriteBatch b;
  b.del(Table::kAudit, last);
  Bytes index_key = tagged_key('u', user.view());
  append_be64(index_key, log.head()->first);
  b.del(Table::kAudit, index_key);
  store.write(b);
  auto problem = audit_chain_error(store, &run.topology(), ed25519_verifier());
  REQUIRE(problem);
  CHECK(problem->find("anchors an entry that is missing") != std::string::npos);
}

namespace {
// Whether any table of the store holds `needle` in a key or a value.
bool store_holds(const Store& store, const Bytes& needle) {
  bool found = false;
  for (std::size_t t = 0; t < kTableCount && !found; ++t)
    store.scan(static_cast<Table>(t), {}, {}, [&](ByteView k, ByteView v) {
      for (ByteView b : {k, v})
        found |= std::search(b.begin(), b.end(), needle.begin(), needle.end()) != b.end();
      return !found;
    });
  return found;
}

WrappedKey sealed_pattern(std::uint8_t b) {
  return WrappedKey{X25519Public{}, Bytes(92, b)};
}
}  // namespace

TEST_CASE(
    "erasure flow: every sealed key of the patient is destroyed on every node of both networks, "
    "and every store still verifies") {
  ConsentRun run;
  const auto patient = patient_signer(0, CryptoMode::kReal);
  const UserId user = user_id_of(patient->public_key());
  const auto hospital_b = run.institution("net1.r0");
  ClientReply shared_a, granted, shared_b, erased, late, read_b, read_patient;
  run.act(2 * kUsPerSecond, "net0.r0", *patient,
          DataKeyShare{{{patient->public_key(), sealed_pattern(0xAB)}}}, shared_a);
  run.act(4 * kUsPerSecond, "net0.r0", *patient,
          ConsentGrant{hospital_b->public_key(), medical(), "care", 0, 100 * kUsPerSecond,
                       sealed_pattern(0xCD)},
          granted);
  run.act(9 * kUsPerSecond, "net1.r0", *patient,
          DataKeyShare{{{hospital_b->public_key(), sealed_pattern(0xEF)}}}, shared_b);
  run.act(10 * kUsPerSecond, "net1.r0", *patient, Erasure{}, erased);
  run.act(12 * kUsPerSecond, "net0.r0", *patient,
          DataKeyShare{{{patient->public_key(), sealed_pattern(0x77)}}}, late);
  run.ask(14 * kUsPerSecond, "net1.r0", ReadUserRequest{user, {}}, *hospital_b, read_b);
  run.ask(14 * kUsPerSecond, "net0.r0", ReadUserRequest{user, {}}, *patient, read_patient);
  RunSummary summary = run.run();
  INFO("seed " << kSeed);
  CHECK(summary.violations == 0);
  for (const ClientReply* r : {&shared_a, &granted, &shared_b, &erased, &late})
    CHECK_MESSAGE(r->status == ReplyStatus::kOk, r->detail);

  // Nothing sealed is served any more, while the records are all still there.
  REQUIRE(read_b.status == ReplyStatus::kOk);
  CHECK(read_b.keys.empty());
  REQUIRE(read_patient.status == ReplyStatus::kOk);
  CHECK(read_patient.keys.empty());
  CHECK(read_patient.detail.find("erased") != std::string::npos);
  int erased_acts = 0;
  for (const Record& r : read_patient.records) erased_acts += r.erased_payload.has_value();
  CHECK(erased_acts >= 3);  // both key shares at A (one arrived late) and the grant's key
  for (const auto& problem : read_proof_errors(read_patient, run.topology(), ed25519_verifier()))
    CHECK_FALSE(problem);

  // No copy of any sealed key is left on any node, and every store verifies.
  for (const NodeInfo& n : run.topology().nodes()) {
    const Store& store = run.world().store_of(n.id);
    for (std::uint8_t b : {0xAB, 0xCD, 0xEF, 0x77})
      CHECK_MESSAGE(!store_holds(store, Bytes(40, b)),
                    n.name << " still holds sealed key bytes " << int(b));
    VerifyReport report = verify_store(store, &run.topology(), 1);
    CHECK_MESSAGE(!report.problem, n.name << ": " << report.problem.value_or(""));
  }
}

TEST_CASE(
    "security flow: a record node cannot inject records for a user not registered with it, and "
    "an old delivery replayed changes nothing") {
  ConsentRun run;
  const UserId user = user_id(0, CryptoMode::kReal);  // registered at net0.r0 only until 5s
  const NodeId intruder = run.node("net0.r1"), consensus = run.node("net0.c0");
  const auto intruder_key = run.institution("net0.r1");
  Record forged;
  forged.user = user;
  forged.network = NetworkId{0};
  forged.author_node = intruder;
  forged.author_key = intruder_key->public_key();
  forged.content_type = "Observation";
  forged.payload = workload_payload(600, 1);
  sign_record(forged, *intruder_key);
  std::vector<RejectReason> refusals;
  std::optional<Message> first_delivery;
  run.world().on_send = [&](NodeId from, NodeId to, const Message& m) {
    if (const auto* r = std::get_if<Rejected>(&m); r && from == consensus && to == intruder)
      refusals.push_back(r->reason);
    if (std::holds_alternative<BlockDelivery>(m) && from == consensus &&
        to == run.node("net0.r0") && !first_delivery)
      first_delivery = m;
  };
  // The intruder writes at the user's next position, as the origin would.
  run.world().at(3 * kUsPerSecond, [&] {
    auto tip = ChainStore(run.store("net0.r0")).tip(user, NetworkId{0});
    forged.sequence = tip ? tip->sequence + 1 : 0;
    forged.prev_hash = tip ? tip->hash : Hash{};
    sign_record(forged, *intruder_key);
    run.world().env_of(intruder).send(consensus, make_message(StoreRequest{forged}));
  });
  std::uint64_t held_before_replay = 0;
  run.world().at(4 * kUsPerSecond, [&] {
    REQUIRE(first_delivery);
    held_before_replay = ChainStore(run.store("net0.r0")).record_count();
    run.world().env_of(consensus).send(run.node("net0.r0"),
                                       std::make_shared<const Message>(*first_delivery));
  });
  std::uint64_t held_after_replay = 0;
  run.world().at(4 * kUsPerSecond + 500 * kUsPerMs,
                 [&] { held_after_replay = ChainStore(run.store("net0.r0")).record_count(); });
  RunSummary summary = run.run();
  INFO("seed " << kSeed);
  CHECK(summary.violations == 0);
  REQUIRE_FALSE(refusals.empty());
  CHECK(refusals.front() == RejectReason::kNotRegistered);
  for (const NodeInfo& n : run.topology().nodes())
    CHECK_FALSE(ChainStore(run.world().store_of(n.id)).has_record_hash(record_hash(forged)));
  CHECK(held_before_replay > 0);
  CHECK(held_after_replay >= held_before_replay);  // new records may land; none is lost
  CHECK(summary.counters.at("records_rejected") >= 1);
}
