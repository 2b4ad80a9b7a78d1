// What a patient decides about their own records, as statements the patient
// signs: consent grants and revocations, the sharing of the data key with
// an institution, and erasure. A statement travels as the payload of a
// record on the patient's timeline (content type kPatientActType), so it is
// ordered by the edge consensus, forwarded by the index network, migrated
// with the history, and honoured by every holder in every network.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/codec.hpp"
#include "common/crypto.hpp"
#include "common/record.hpp"

namespace mhr {

inline constexpr std::string_view kPatientActType = "mhr/patient-act";
inline constexpr std::size_t kMaxScopeContentTypes = 16;
inline constexpr std::size_t kMaxPurposeBytes = 256;
inline constexpr std::size_t kMaxWrappedKeyBytes = 256;
inline constexpr std::size_t kMaxKeyShares = 16;

// A data key sealed for one recipient's X25519 key (key_wrap.hpp).
struct WrappedKey {
  X25519Public recipient;
  Bytes sealed;
  bool operator==(const WrappedKey&) const = default;
};

// Which records a grant covers: categories (bit i = Category i) and, when
// not empty, only these content types.
struct ConsentScope {
  std::uint8_t categories = 0;
  std::vector<std::string> content_types;
  bool operator==(const ConsentScope&) const = default;
  static ConsentScope all();
  bool covers(const Record& r) const;
};

// The patient lets `grantee` (a clinician's, institution's or node's key)
// read the records in `scope`, between not_before and expiry.
struct ConsentGrant {
  PublicKey grantee;
  ConsentScope scope;
  std::string purpose;
  TimeUs not_before_us = 0;
  TimeUs expires_us = 0;
  std::optional<WrappedKey> key;  // the data key, sealed for the grantee
  bool operator==(const ConsentGrant&) const = default;
  bool in_force(TimeUs now_us) const { return not_before_us <= now_us && now_us < expires_us; }
};

struct ConsentRevocation {
  Hash grant;  // the act_id of the grant's statement
  bool operator==(const ConsentRevocation&) const = default;
};

// A sealed data key and who may fetch it from a holder: the patient, an
// institution (its node key: then its staff too) or a grantee.
struct KeyShare {
  PublicKey holder;
  WrappedKey key;
  bool operator==(const KeyShare&) const = default;
};

// The data key shared with parties entitled to read: the patient and the
// institution the patient registers with.
struct DataKeyShare {
  std::vector<KeyShare> shares;
  bool operator==(const DataKeyShare&) const = default;
};

// Every wrapped key of the user is to be destroyed, everywhere.
struct Erasure {
  bool operator==(const Erasure&) const = default;
};

using PatientAct = std::variant<ConsentGrant, ConsentRevocation, DataKeyShare, Erasure>;

struct PatientStatement {
  UserId user;
  PublicKey patient;  // user == user_id_of(patient)
  TimeUs time_us = 0;
  std::uint64_t nonce = 0;
  PatientAct act;
  Signature signature;
  bool operator==(const PatientStatement&) const = default;
};

template <>
struct Codec<WrappedKey> {
  static void write(Writer& w, const WrappedKey& v);
  static WrappedKey read(Reader& r);
};
template <>
struct Codec<PatientStatement> {
  static void write(Writer& w, const PatientStatement& v);
  static PatientStatement read(Reader& r);
};

Bytes statement_signing_bytes(const PatientStatement& s);
void sign_statement(PatientStatement& s, const Signer& patient);
// Its identity (a revocation names a grant by it): the hash of what is signed.
Hash statement_id(const PatientStatement& s);

// Why the statement is not a valid act of the user's patient, or nullopt.
std::optional<std::string> statement_error(const PatientStatement& s, const Verifier& verifier);

// The statement a record carries, when it is a patient act that decodes.
std::optional<PatientStatement> statement_of(const Record& r);
inline bool is_patient_act(const Record& r) {
  return r.content_type == kPatientActType;
}
// Whether the statement carries sealed data keys (what an erasure destroys).
bool carries_keys(const PatientStatement& s);

}  // namespace mhr
