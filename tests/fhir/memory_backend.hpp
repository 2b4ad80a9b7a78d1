// An in-memory FhirBackend for the gateway's unit tests: registrations and
// records in maps, positions and hashes assigned like a one-network chain.
#pragma once

#include <map>
#include <set>

#include "common/crypto.hpp"
#include "edge_node/fhir/backend.hpp"
#include "edge_node/fhir/consent_mapping.hpp"

namespace mhr::fhir {

class MemoryBackend final : public FhirBackend {
 public:
  UserId new_patient() override {
    const std::string label = "memory-patient-" + std::to_string(++patients_made_);
    const UserId user{sha256(as_bytes(label))};
    custody.insert(user);
    return user;
  }
  std::vector<BackendReply> register_patients(const Identity&,

                                              std::span<const UserId> users) override {
    std::vector<BackendReply> out;
    for (const UserId& u : users) {
      registrations++;
      registered.insert(u);
      out.push_back({BackendStatus::kOk, "registered", std::nullopt});
    }
    return out;
  }

  std::vector<BackendReply> submit(const Identity&, std::span<const NewRecord> records) override {
    std::vector<BackendReply> out;
    for (const NewRecord& r : records) {
      if (fail_submits > 0) {
        --fail_submits;
        out.push_back({BackendStatus::kUnavailable, "test failure", std::nullopt});
        continue;
      }
      if (!registered.contains(r.user)) {
        out.push_back({BackendStatus::kRejected, "user is not registered at this node", {}});
        continue;
      }
      auto& chain = chains[r.user];
      ChainRecord c;
      c.sequence = chain.size();
      c.network = 0;
      c.created_at_us = (clock_us += 1000);
      c.content_type = r.content_type;
      c.category = r.category;
      c.payload = r.payload;
      c.supersedes = r.supersedes;
      c.hash = sha256(as_bytes(r.user.hex() + std::to_string(c.sequence) + r.payload));
      chain.push_back(c);
      out.push_back({BackendStatus::kOk, "committed", c.hash});
    }
    submitted += records.size();
    return out;
  }

  BackendRead read(const Identity&, const UserId& user) override {
    ++reads;
    if (!registered.contains(user)) return {BackendStatus::kRejected, "not registered", {}};
    auto it = chains.find(user);
    return {BackendStatus::kOk, "", it == chains.end() ? std::vector<ChainRecord>{} : it->second};
  }

  // API-key identities (name -> external) and nodes, keyed by a hash of
  // their name; an internal identity is the institution.
  std::optional<Grantee> grantee(std::string_view system, std::string_view value) override {
    if (system == kNodeActorSystem && value.starts_with("net"))
      return Grantee{key_of("node:" + std::string(value)), std::nullopt};
    if (system != kApiKeyActorSystem || !identities.contains(std::string(value)))
      return std::nullopt;
    const std::string who = identities.at(std::string(value)) ? std::string(value) : "institution";
    return Grantee{key_of("identity:" + who), X25519Public{key_of("box:" + who)}};
  }

  std::optional<PatientStatement> sign_as_patient(const UserId& user, PatientAct act,
                                                  std::optional<X25519Public> seal_for) override {
    if (!custody.contains(user)) return std::nullopt;
    if (auto* g = std::get_if<ConsentGrant>(&act); g && seal_for)
      g->key = WrappedKey{*seal_for, Bytes(48, 7)};
    PatientStatement st{user, key_of("patient:" + user.hex()), clock_us, ++nonce, std::move(act),
                        {}};
    return st;
  }

  std::vector<BackendReply> send_acts(const Identity&,
                                      std::span<const PatientStatement> sent) override {
    std::vector<BackendReply> out;
    for (const PatientStatement& st : sent) {
      acts.push_back(st);
      out.push_back({BackendStatus::kOk, "committed", statement_id(st)});
    }
    return out;
  }

  static PublicKey key_of(const std::string& label) {
    return PublicKey{FixedBytes<32>::from_view(sha256(as_bytes(label)).view())};
  }

  std::set<UserId> custody;  // patients this backend made
  std::map<std::string, bool> identities = {{"dr-test", false}, {"dr-outside", true}};
  std::vector<PatientStatement> acts;  // sent, in order
  std::uint64_t nonce = 0;
  std::set<UserId> registered;
  std::map<UserId, std::vector<ChainRecord>> chains;
  TimeUs clock_us = 1'600'000'000'000'000;
  int fail_submits = 0;  // the next N records fail (unavailable)
  std::size_t submitted = 0;
  std::size_t registrations = 0;
  std::size_t reads = 0;
  std::size_t patients_made_ = 0;
};

}  // namespace mhr::fhir
