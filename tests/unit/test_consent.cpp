// Patient statements, the consent book, read access, replay refusal and the
// audit chain: the access model's pure parts.
#include <doctest/doctest.h>

#include "common/access.hpp"
#include "common/audit_log.hpp"
#include "common/consent_book.hpp"
#include "common/identity.hpp"
#include "common/key_wrap.hpp"
#include "common/replay_guard.hpp"
#include "common/signer.hpp"

using namespace mhr;

namespace {

KeyPair key_of(const char* name) {
  return KeyPair::from_seed(SecretSeed{sha256(as_bytes(name))});
}

PatientStatement statement(const KeyPair& patient, PatientAct act, std::uint64_t nonce = 1) {
  PatientStatement s{
      user_id_of(patient.public_key()), patient.public_key(), 1000, nonce, std::move(act), {}};
  sign_statement(s, patient);
  return s;
}

ConsentGrant grant_to(const PublicKey& grantee, ConsentScope scope, TimeUs from = 0,
                      TimeUs until = 1'000'000) {
  return {grantee, std::move(scope), "care", from, until, std::nullopt};
}

Record record(const UserId& user, NodeId author, Category c, std::string type) {
  Record r;
  r.user = user;
  r.author_node = author;
  r.category = c;
  r.content_type = std::move(type);
  return r;
}

WrappedKey wrapped(std::uint8_t b) {
  WrappedKey k;
  k.recipient.bytes.fill(b);
  k.sealed = Bytes(60, b);
  return k;
}

}  // namespace

TEST_CASE("consent: statements round-trip, and only the patient's signature makes them valid") {
  const KeyPair patient = key_of("patient"), other = key_of("other");
  ConsentScope scope{0b0011, {"Observation", "Claim"}};
  ConsentGrant g = grant_to(other.public_key(), scope, 5, 50);
  g.key = wrapped(7);
  for (const PatientAct& act :
       {PatientAct{g}, PatientAct{ConsentRevocation{sha256(as_bytes("g"))}},
        PatientAct{DataKeyShare{{{patient.public_key(), wrapped(1)}}}}, PatientAct{Erasure{}}}) {
    PatientStatement s = statement(patient, act);
    auto back = decode<PatientStatement>(encode(s));
    REQUIRE(back.ok());
    CHECK(back.value() == s);
    CHECK_FALSE(statement_error(s, ed25519_verifier()));

    PatientStatement forged = s;
    forged.time_us += 1;  // anything changed after signing
    CHECK(statement_error(forged, ed25519_verifier()) ==
          std::optional<std::string>("the patient's signature does not verify"));
  }
  // Someone else's key cannot speak for the user, even with a valid signature.
  PatientStatement s = statement(patient, Erasure{});
  s.patient = other.public_key();
  sign_statement(s, other);
  CHECK(statement_error(s, ed25519_verifier()) ==
        std::optional<std::string>("the statement's key is not the patient's"));
  // A grant must cover something and must not end before it starts.
  CHECK(statement_error(statement(patient, grant_to(other.public_key(), {0, {}})),
                        ed25519_verifier()));
  CHECK(statement_error(statement(patient, grant_to(other.public_key(), ConsentScope::all(), 9, 9)),
                        ed25519_verifier()));
}

TEST_CASE("consent: a scope covers categories and, when listed, only those content types") {
  const UserId u = user_id_of(key_of("p").public_key());
  ConsentScope medical{1u << static_cast<unsigned>(Category::kMedical), {}};
  CHECK(medical.covers(record(u, NodeId{1}, Category::kMedical, "Observation")));
  CHECK_FALSE(medical.covers(record(u, NodeId{1}, Category::kBilling, "Claim")));
  ConsentScope labs{0xF, {"Observation"}};
  CHECK(labs.covers(record(u, NodeId{1}, Category::kBilling, "Observation")));
  CHECK_FALSE(labs.covers(record(u, NodeId{1}, Category::kMedical, "Condition")));
  CHECK(ConsentScope::all().covers(record(u, NodeId{1}, Category::kAdministrative, "x")));
}

TEST_CASE("consent book: grants in force, revocations, key shares and erasure") {
  auto store = open_memory_store();
  ConsentBook book(*store);
  const KeyPair patient = key_of("patient"), doctor = key_of("doctor");
  const UserId u = user_id_of(patient.public_key());
  ConsentGrant g = grant_to(doctor.public_key(), ConsentScope::all(), 100, 200);
  g.key = wrapped(3);
  PatientStatement granted = statement(patient, g);
  WriteBatch b;
  book.apply(b, granted);
  book.apply(b, statement(patient, DataKeyShare{{{patient.public_key(), wrapped(1)}}}, 2));
  store->write(b);

  CHECK(book.grants_in_force(u, 50).empty());  // not yet
  REQUIRE(book.grants_in_force(u, 150).size() == 1);
  CHECK(book.grants_in_force(u, 150)[0].id == statement_id(granted));
  CHECK(book.grants_in_force(u, 200).empty());  // expired
  CHECK(book.keys_for(u, doctor.public_key()) == std::vector<WrappedKey>{wrapped(3)});
  CHECK(book.keys_for(u, patient.public_key()) == std::vector<WrappedKey>{wrapped(1)});

  WriteBatch r;
  book.apply(r, statement(patient, ConsentRevocation{statement_id(granted)}, 3));
  store->write(r);
  CHECK(book.grants_in_force(u, 150).empty());

  // Erasure destroys every sealed key, also one put in the same batch, and
  // keys that arrive later are not kept.
  WriteBatch e;
  book.apply(e, statement(patient, DataKeyShare{{{patient.public_key(), wrapped(9)}}}, 4));
  book.apply(e, statement(patient, Erasure{}, 5));
  store->write(e);
  CHECK(book.erased(u));
  CHECK(book.keys_for(u, patient.public_key()).empty());
  CHECK(book.keys_for(u, doctor.public_key()).empty());
  CHECK(book.grant_count(u) == 0);
  WriteBatch late;
  book.apply(late, statement(patient, DataKeyShare{{{patient.public_key(), wrapped(8)}}}, 6));
  store->write(late);
  CHECK(book.keys_for(u, patient.public_key()).empty());
}

TEST_CASE("access: patient, staff, grantee and stranger") {
  const KeyPair patient = key_of("patient"), institution = key_of("hospital"),
                clinician = key_of("clinician"), outsider = key_of("outsider"),
                other_hospital = key_of("other hospital");
  const UserId u = user_id_of(patient.public_key());
  NodeInfo node{NodeId{4},
                NodeRole::kRecord,
                NetworkId{0},
                institution.public_key(),
                "net0.r0",
                {clinician.public_key()},
                {}};
  const Record own = record(u, NodeId{4}, Category::kMedical, "Observation");
  const Record foreign_medical = record(u, NodeId{9}, Category::kMedical, "Condition");
  const Record foreign_bill = record(u, NodeId{9}, Category::kBilling, "Claim");
  Record act = record(u, NodeId{4}, Category::kAdministrative, std::string(kPatientActType));

  ReadAccess p = read_access(u, patient.public_key(), node, {});
  CHECK(p.standing == Standing::kPatient);
  CHECK((p.may_read(own) && p.may_read(foreign_bill) && p.may_read(act)));

  // Staff read what their institution wrote, nothing else without a grant.
  for (const KeyPair* staff : {&institution, &clinician}) {
    ReadAccess s = read_access(u, staff->public_key(), node, {});
    CHECK(s.standing == Standing::kStaff);
    CHECK(s.may_read(own));
    CHECK_FALSE(s.may_read(foreign_medical));
    CHECK_FALSE(s.may_read(act));
    CHECK(s.key_holder == institution.public_key());
  }
  // A grant to the institution covers its clinicians too.
  ConsentScope medical{1u << static_cast<unsigned>(Category::kMedical), {}};
  std::vector<ActiveGrant> to_institution{{Hash{}, grant_to(institution.public_key(), medical)}};
  ReadAccess s = read_access(u, clinician.public_key(), node, to_institution);
  CHECK(s.may_read(foreign_medical));
  CHECK_FALSE(s.may_read(foreign_bill));

  // A grantee elsewhere reads what its grant covers; a stranger nothing.
  std::vector<ActiveGrant> to_other{{Hash{}, grant_to(other_hospital.public_key(), medical)}};
  ReadAccess g = read_access(u, other_hospital.public_key(), node, to_other);
  CHECK(g.standing == Standing::kGrantee);
  CHECK((g.may_read(own) && g.may_read(foreign_medical)));
  CHECK_FALSE(g.may_read(foreign_bill));
  CHECK_FALSE(g.may_read(act));
  CHECK(read_access(u, outsider.public_key(), node, to_other).standing == Standing::kNone);
}

TEST_CASE("replay guard: stale and replayed credentials are refused, fresh ones taken once") {
  ReplayGuard guard;
  const TimeUs now = 1'000 * kUsPerSecond;
  Credential c{key_of("k").public_key(), now, 7, {}};
  CHECK(guard.admit(c, now) == ReplayGuard::Verdict::kFresh);
  CHECK(guard.admit(c, now + 1) == ReplayGuard::Verdict::kReplayed);
  Credential other_nonce = c;
  other_nonce.nonce = 8;
  CHECK(guard.admit(other_nonce, now) == ReplayGuard::Verdict::kFresh);
  Credential old = c;
  old.time_us = now - kCredentialWindowUs - 1;
  old.nonce = 9;
  CHECK(guard.admit(old, now) == ReplayGuard::Verdict::kStale);
  Credential future = old;
  future.time_us = now + kCredentialWindowUs + 1;
  CHECK(guard.admit(future, now) == ReplayGuard::Verdict::kStale);
  // Long after, the first credential is stale rather than remembered.
  CHECK(guard.admit(c, now + 2 * kCredentialWindowUs) == ReplayGuard::Verdict::kStale);
}

TEST_CASE("credentials: bound to the request, the node and the requester") {
  const KeyPair clinician = key_of("clinician");
  const Hash body = sha256(as_bytes("read user 1"));
  Credential c = make_credential(clinician, NodeId{3}, 500, 1, body);
  CHECK(verify_credential(c, NodeId{3}, body, ed25519_verifier()));
  CHECK_FALSE(verify_credential(c, NodeId{4}, body, ed25519_verifier()));  // another node
  CHECK_FALSE(verify_credential(c, NodeId{3}, sha256(as_bytes("read user 2")), ed25519_verifier()));
  Credential later = c;
  later.time_us = 501;
  CHECK_FALSE(verify_credential(later, NodeId{3}, body, ed25519_verifier()));
}

TEST_CASE("audit log: entries chain, survive a reload, and any edit or removal shows") {
  auto store = open_memory_store();
  const KeyPair reader = key_of("reader");
  const UserId u1 = user_id_of(key_of("p1").public_key()),
               u2 = user_id_of(key_of("p2").public_key());
  {
    AuditLog log(*store);
    for (int i = 0; i < 6; ++i) {
      WriteBatch b;
      log.append(b, {0,
                     {},
                     100 + i,
                     reader.public_key(),
                     i % 2 ? u1 : u2,
                     AuditAction::kRead,
                     static_cast<std::uint32_t>(i),
                     "read"});
      store->write(b);
    }
  }
  AuditLog log(*store);
  REQUIRE(log.head().has_value());
  CHECK(log.head()->first == 5);
  auto mine = log.for_user(u1, 100);
  REQUIRE(mine.size() == 3);
  CHECK(mine[0].sequence == 1);
  CHECK(mine[2].records == 5);
  CHECK(log.for_user(u1, 2).size() == 2);
  CHECK_FALSE(audit_chain_error(*store, nullptr, ed25519_verifier()));

  SUBCASE("an edited entry breaks the link after it") {
    AuditEntry e = log.for_user(u2, 100)[1];
    e.records = 99;
    Bytes key{'e'};
    append_be64(key, e.sequence);
    WriteBatch b;
    b.put(Table::kAudit, key, encode(e));
    store->write(b);
    auto problem = audit_chain_error(*store, nullptr, ed25519_verifier());
    REQUIRE(problem);
    CHECK(problem->find("audit entry 3") != std::string::npos);
  }
  SUBCASE("a removed entry leaves a hole") {
    Bytes key{'e'};
    append_be64(key, 2);
    WriteBatch b;
    b.del(Table::kAudit, key);
    store->write(b);
    auto problem = audit_chain_error(*store, nullptr, ed25519_verifier());
    REQUIRE(problem);
    CHECK(problem->find("audit entry 2") != std::string::npos);
  }
}

TEST_CASE("key wrap: a data key sealed for a recipient opens only with its key") {
  const SecretSeed patient_seed{sha256(as_bytes("patient seed"))};
  const AeadKey dk = data_key_of(patient_seed);
  CHECK(dk == data_key_of(patient_seed));  // derived, so the patient never fetches it
  const X25519KeyPair hospital = box_keys_of(SecretSeed{sha256(as_bytes("hospital seed"))});
  const X25519KeyPair other = box_keys_of(SecretSeed{sha256(as_bytes("other seed"))});
  WrappedKey w = seal_data_key(dk, hospital.public_key);
  CHECK(w.sealed.size() <= kMaxWrappedKeyBytes);
  CHECK(open_data_key(w, hospital) == std::optional<AeadKey>(dk));
  CHECK_FALSE(open_data_key(w, other));
  WrappedKey flipped = w;
  flipped.sealed[40] ^= 1;
  CHECK_FALSE(open_data_key(flipped, hospital));
  CHECK(seal_data_key(dk, hospital.public_key).sealed != w.sealed);  // fresh ephemeral key

  const UserId u = user_id_of(key_of("p").public_key());
  const Bytes sealed = seal_payload(dk, u, as_bytes("{\"resourceType\":\"Observation\"}"));
  CHECK(looks_sealed(sealed));
  CHECK_FALSE(looks_sealed(as_bytes("{\"resourceType\":\"Observation\"}")));
  auto opened = open_payload(dk, u, sealed);
  REQUIRE(opened);
  CHECK(std::string(opened->begin(), opened->end()) == "{\"resourceType\":\"Observation\"}");
  // Bound to the user and the key.
  CHECK_FALSE(open_payload(dk, user_id_of(key_of("q").public_key()), sealed));
  CHECK_FALSE(open_payload(data_key_of(SecretSeed{}), u, sealed));
}
