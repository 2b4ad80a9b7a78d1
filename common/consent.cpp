#include "common/consent.hpp"

#include <algorithm>

#include "common/identity.hpp"

namespace mhr {

namespace {
constexpr std::string_view kStatementDomain = "mhr-patient-act-v1";
enum ActTag : std::uint8_t { kGrantTag = 0, kRevocationTag, kKeyShareTag, kErasureTag, kTagCount };

void write_scope(Writer& w, const ConsentScope& s) {
  w.u8(s.categories);
  MHR_ASSERT(s.content_types.size() <= kMaxScopeContentTypes);
  w.varint(s.content_types.size());
  for (const std::string& t : s.content_types) {
    MHR_ASSERT(t.size() <= kMaxContentTypeBytes);
    w.str(t);
  }
}

ConsentScope read_scope(Reader& r) {
  ConsentScope s;
  s.categories = r.u8();
  if (s.categories >> kCategoryCount) r.fail(DecodeError::kUnknownType);
  std::size_t n = r.count(kMaxScopeContentTypes);
  for (std::size_t i = 0; i < n && r.ok(); ++i)
    s.content_types.push_back(r.str(kMaxContentTypeBytes));
  return s;
}

void write_time(Writer& w, TimeUs t) {
  MHR_ASSERT(t >= 0);
  w.varint(static_cast<std::uint64_t>(t));
}

void write_act(Writer& w, const PatientAct& act) {
  MHR_ASSERT(!act.valueless_by_exception());
  w.u8(static_cast<std::uint8_t>(act.index()));
  if (const auto* g = std::get_if<ConsentGrant>(&act)) {
    w.fixed(g->grantee);
    write_scope(w, g->scope);
    MHR_ASSERT(g->purpose.size() <= kMaxPurposeBytes);
    w.str(g->purpose);
    write_time(w, g->not_before_us);
    write_time(w, g->expires_us);
    w.boolean(g->key.has_value());
    if (g->key) Codec<WrappedKey>::write(w, *g->key);
  } else if (const auto* rv = std::get_if<ConsentRevocation>(&act)) {
    w.fixed(rv->grant);
  } else if (const auto* ks = std::get_if<DataKeyShare>(&act)) {
    MHR_ASSERT(ks->shares.size() <= kMaxKeyShares);
    w.varint(ks->shares.size());
    for (const KeyShare& k : ks->shares) {
      w.fixed(k.holder);
      Codec<WrappedKey>::write(w, k.key);
    }
  }
}

PatientAct read_act(Reader& r) {
  const std::uint8_t tag = r.u8();
  if (tag == kGrantTag) {
    ConsentGrant g;
    g.grantee = r.fixed_as<PublicKey>();
    g.scope = read_scope(r);
    g.purpose = r.str(kMaxPurposeBytes);
    g.not_before_us = r.time_us();
    g.expires_us = r.time_us();
    if (r.boolean()) g.key = Codec<WrappedKey>::read(r);
    return g;
  }
  if (tag == kRevocationTag) return ConsentRevocation{r.fixed_as<Hash>()};
  if (tag == kKeyShareTag) {
    DataKeyShare ks;
    std::size_t n = r.count(kMaxKeyShares, 65);
    for (std::size_t i = 0; i < n && r.ok(); ++i) {
      PublicKey holder = r.fixed_as<PublicKey>();
      ks.shares.push_back({holder, Codec<WrappedKey>::read(r)});
    }
    return ks;
  }
  if (tag != kErasureTag) r.fail(DecodeError::kUnknownType);
  return Erasure{};
}

void write_unsigned(Writer& w, const PatientStatement& s) {
  w.fixed(s.user);
  w.fixed(s.patient);
  write_time(w, s.time_us);
  w.varint(s.nonce);
  write_act(w, s.act);
}
}  // namespace

ConsentScope ConsentScope::all() {
  return {static_cast<std::uint8_t>((1u << kCategoryCount) - 1), {}};
}

bool ConsentScope::covers(const Record& r) const {
  if (!(categories & (1u << static_cast<unsigned>(r.category)))) return false;
  if (content_types.empty()) return true;
  return std::find(content_types.begin(), content_types.end(), r.content_type) !=
         content_types.end();
}

void Codec<WrappedKey>::write(Writer& w, const WrappedKey& v) {
  w.fixed(v.recipient);
  MHR_ASSERT(v.sealed.size() <= kMaxWrappedKeyBytes);
  w.bytes(v.sealed);
}

WrappedKey Codec<WrappedKey>::read(Reader& r) {
  WrappedKey v;
  v.recipient = r.fixed_as<X25519Public>();
  ByteView sealed = r.bytes(kMaxWrappedKeyBytes);
  v.sealed.assign(sealed.begin(), sealed.end());
  return v;
}

void Codec<PatientStatement>::write(Writer& w, const PatientStatement& v) {
  write_unsigned(w, v);
  w.fixed(v.signature);
}

PatientStatement Codec<PatientStatement>::read(Reader& r) {
  PatientStatement v;
  v.user = r.fixed_as<UserId>();
  v.patient = r.fixed_as<PublicKey>();
  v.time_us = r.time_us();
  v.nonce = r.varint();
  v.act = read_act(r);
  v.signature = r.fixed_as<Signature>();
  return v;
}

Bytes statement_signing_bytes(const PatientStatement& s) {
  Writer w(256);
  w.str(kStatementDomain);
  write_unsigned(w, s);
  return w.take();
}

void sign_statement(PatientStatement& s, const Signer& patient) {
  MHR_ASSERT(s.patient == patient.public_key());
  s.signature = patient.sign(statement_signing_bytes(s));
}

Hash statement_id(const PatientStatement& s) {
  return sha256(statement_signing_bytes(s));
}

std::optional<std::string> statement_error(const PatientStatement& s, const Verifier& verifier) {
  if (user_id_of(s.patient) != s.user) return "the statement's key is not the patient's";
  if (const auto* g = std::get_if<ConsentGrant>(&s.act)) {
    if (g->scope.categories == 0) return "the grant covers no category";
    if (g->expires_us <= g->not_before_us) return "the grant expires before it starts";
  }
  if (!verifier.verify(s.patient, statement_signing_bytes(s), s.signature))
    return "the patient's signature does not verify";
  return std::nullopt;
}

bool carries_keys(const PatientStatement& s) {
  if (std::holds_alternative<DataKeyShare>(s.act)) return true;
  const auto* g = std::get_if<ConsentGrant>(&s.act);
  return g && g->key.has_value();
}

std::optional<PatientStatement> statement_of(const Record& r) {
  if (!is_patient_act(r) || r.off_chain) return std::nullopt;
  auto s = decode<PatientStatement>(r.payload.view());
  if (!s.ok()) return std::nullopt;
  return std::move(s).value();
}

}  // namespace mhr
