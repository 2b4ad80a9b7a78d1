// The gateway's calls to its record node: the one place that builds client
// requests, and so the one place issue 5's signing and encryption go.
#include "edge_node/fhir/node_backend.hpp"

#include <map>

#include "common/client_codec.hpp"
#include "common/key_wrap.hpp"
#include "common/net/zmq_runtime.hpp"
#include "edge_node/fhir/consent_mapping.hpp"

namespace mhr::fhir {

namespace {

constexpr TimeUs kPollUs = 100 * kUsPerMs;  // how often a wait looks at `stopping`

BackendStatus status_of(ReplyStatus s) {
  switch (s) {
    case ReplyStatus::kOk:
      return BackendStatus::kOk;
    case ReplyStatus::kRejected:
      return BackendStatus::kRejected;
    case ReplyStatus::kUnavailable:
      return BackendStatus::kUnavailable;
    case ReplyStatus::kDenied:
      return BackendStatus::kDenied;
  }
  return BackendStatus::kUnavailable;
}

BackendReply reply_of(const ClientReply& r) {
  return {status_of(r.status), r.detail, r.entry_hash};
}

ClientRequest signed_by(ClientRequest r, const Signer& by, NodeId node) {
  sign_request(r, by, node, wall_clock_us(), secure_random_u64());
  return r;
}

// A stored record as the gateway reads it, opened with the patient's data key.
std::optional<ChainRecord> open(const AeadKey& key, const Record& r) {
  auto plain = open_payload(key, r.user, r.payload.view());
  if (!plain) return std::nullopt;
  ChainRecord c;
  c.hash = record_hash(r);
  c.network = r.network.value;
  c.sequence = r.sequence;
  c.created_at_us = r.created_at_us;
  c.content_type = r.content_type;
  c.category = r.category;
  c.payload.assign(plain->begin(), plain->end());
  c.supersedes = r.supersedes;
  return c;
}

}  // namespace

SecretSeed identity_seed(const SecretSeed& node_seed, std::string_view name) {
  constexpr std::string_view kSalt = "mhr-fhir-identity-v1";
  Bytes okm = hkdf_sha256(node_seed.view(), as_bytes(kSalt), as_bytes(name), 32);
  SecretSeed seed;
  std::copy(okm.begin(), okm.end(), seed.bytes.begin());
  return seed;
}

NodeBackend::NodeBackend(std::string endpoint, std::string node_curve_z85, CurveKeyPair client_keys,
                         const std::atomic<bool>& stopping, TimeUs timeout_us,
                         Institution institution)
    : endpoint_(std::move(endpoint)),
      node_curve_z85_(std::move(node_curve_z85)),
      client_keys_(std::move(client_keys)),
      stopping_(stopping),
      timeout_us_(timeout_us),
      node_(institution.node),
      mode_(institution.mode),
      signer_(make_signer(institution.mode, institution.seed)),
      box_keys_(box_keys_of(institution.seed)),
      box_key_(institution.box_key),
      custody_(institution.custody_file, institution.mode),
      seed_(institution.seed),
      identities_(std::move(institution.identities)),
      nodes_(std::move(institution.nodes)) {
  MHR_ASSERT(timeout_us_ > 0);
}

NodeBackend::~NodeBackend() = default;

std::unique_ptr<ZmqClient> NodeBackend::lease() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return std::make_unique<ZmqClient>(endpoint_, node_curve_z85_, client_keys_);
}

void NodeBackend::give_back(std::unique_ptr<ZmqClient> client) {
  std::lock_guard lock(mutex_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(client));
}

// Every request leaves here, already signed by its requester: the
// institution (the node's key), or a patient in custody.
std::vector<ClientReply> NodeBackend::exchange(const Identity& /*who*/,
                                               std::vector<ClientRequest> requests) {
  std::vector<ClientReply> replies(
      requests.size(), make_reply(ReplyStatus::kUnavailable, "no reply from the record node"));
  if (requests.empty()) return replies;
  std::unique_ptr<ZmqClient> client = lease();
  std::map<ClientRequestId, std::size_t> in_flight;
  std::size_t next = 0;
  std::size_t answered = 0;
  TimeUs silent_us = 0;
  bool healthy = true;
  while (answered < requests.size()) {
    while (next < requests.size() && in_flight.size() < kWindow) {
      try {
        in_flight.emplace(client->send(requests[next]), next);
      } catch (const std::exception& e) {
        replies[next].detail = e.what();
        ++answered;
      }
      ++next;
    }
    if (in_flight.empty()) continue;
    if (stopping_.load(std::memory_order_relaxed)) {
      for (auto& [id, i] : in_flight) replies[i].detail = "the node is shutting down";
      healthy = false;
      break;
    }
    ClientRequestId id = 0;
    ClientReply reply;
    if (!client->receive(id, reply, kPollUs)) {
      silent_us += kPollUs;
      if (silent_us >= timeout_us_) {
        healthy = false;  // late replies may still come: do not reuse this connection
        break;
      }
      continue;
    }
    silent_us = 0;
    auto it = in_flight.find(id);
    if (it == in_flight.end()) continue;  // a stray reply
    replies[it->second] = std::move(reply);
    in_flight.erase(it);
    ++answered;
  }
  if (healthy) give_back(std::move(client));
  return replies;
}

UserId NodeBackend::new_patient() {
  return custody_.create();
}

// Registered as the patient, with the patient's key in custody, then the
// data key shared with this institution as the patient would.
std::vector<BackendReply> NodeBackend::register_patients(const Identity& who,
                                                         std::span<const UserId> users) {
  std::vector<BackendReply> out;
  for (const UserId& u : users) {
    auto seed = custody_.seed_of(u);
    if (!seed) {
      out.push_back({BackendStatus::kRejected,
                     "Patient/" + u.hex() +
                         " was not created here: a patient with a key of their own registers "
                         "with it (mhr register)",
                     std::nullopt});
      continue;
    }
    const auto patient = make_signer(mode_, *seed);
    ClientReply r = exchange(who, {signed_by(RegisterUserRequest{u, {}}, *patient, node_)})[0];
    if (r.status == ReplyStatus::kOk && r.detail != "already registered")
      r = share_data_key(who, u, *seed, *patient);
    out.push_back(reply_of(r));
  }
  return out;
}

ClientReply NodeBackend::share_data_key(const Identity& who, const UserId& user,
                                        const SecretSeed& seed, const Signer& patient) {
  const AeadKey dk = data_key_of(seed);
  DataKeyShare share{{{patient.public_key(), seal_data_key(dk, box_keys_of(seed).public_key)},
                      {signer_->public_key(), seal_data_key(dk, box_key_)}}};
  const std::optional<PatientStatement> st = sign_as_patient(user, share, std::nullopt);
  MHR_ASSERT(st.has_value());  // the caller holds the patient's seed in custody
  return exchange(who, {PatientActRequest{*st}})[0];
}

// The patient's data key: derived for a patient in custody, otherwise opened
// from what the patient shared with this institution.
std::optional<AeadKey> NodeBackend::data_key(const UserId& user,
                                             const std::vector<WrappedKey>& shared) {
  if (auto seed = custody_.seed_of(user)) return data_key_of(*seed);
  for (const WrappedKey& w : shared)
    if (auto key = open_data_key(w, box_keys_)) return key;
  return std::nullopt;
}

std::vector<BackendReply> NodeBackend::submit(const Identity& who,
                                              std::span<const NewRecord> records) {
  std::map<UserId, std::optional<AeadKey>> keys;
  for (const NewRecord& r : records)
    if (!keys.contains(r.user)) keys[r.user] = key_for_writing(who, r.user);
  std::vector<ClientRequest> requests;
  std::vector<BackendReply> out(records.size());
  std::vector<std::size_t> sent;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const NewRecord& r = records[i];
    const auto& key = keys.at(r.user);
    if (!key) {
      out[i] = {BackendStatus::kRejected,
                "the patient has not shared their data key with this institution", std::nullopt};
      continue;
    }
    SubmitRecordRequest req{r.user,
                            r.content_type,
                            r.category,
                            SharedBytes(seal_payload(*key, r.user, as_bytes(r.payload))),
                            std::nullopt,
                            r.supersedes,
                            {}};
    requests.push_back(signed_by(std::move(req), *signer_, node_));
    sent.push_back(i);
  }
  std::vector<ClientReply> replies = exchange(who, std::move(requests));
  for (std::size_t k = 0; k < sent.size(); ++k) out[sent[k]] = reply_of(replies[k]);
  return out;
}

std::optional<AeadKey> NodeBackend::key_for_writing(const Identity& who, const UserId& user) {
  if (auto seed = custody_.seed_of(user)) return data_key_of(*seed);
  ClientReply r = exchange(who, {signed_by(ReadUserRequest{user, {}}, *signer_, node_)})[0];
  return data_key(user, r.keys);
}

std::optional<AeadKey> NodeBackend::external_data_key(const SecretSeed& own,
                                                      const std::vector<WrappedKey>& shared) {
  const X25519KeyPair box = box_keys_of(own);
  for (const WrappedKey& w : shared)
    if (auto key = open_data_key(w, box)) return key;
  return std::nullopt;
}

// The institution reads with the node's key; an external identity with its
// own, and sees what its grants cover (the node decides).
BackendRead NodeBackend::read(const Identity& who, const UserId& user) {
  const std::optional<SecretSeed> own =
      who.external ? std::optional(identity_seed(seed_, who.name)) : std::nullopt;
  const auto reader = own ? make_signer(mode_, *own) : nullptr;
  ClientReply r =
      exchange(who, {signed_by(ReadUserRequest{user, {}}, reader ? *reader : *signer_, node_)})[0];
  BackendRead out{status_of(r.status), r.detail, {}};
  if (r.status != ReplyStatus::kOk) return out;
  const std::optional<AeadKey> key = own ? external_data_key(*own, r.keys) : data_key(user, r.keys);
  for (const Record& rec : r.records) {
    auto opened = key ? open(*key, rec) : std::nullopt;
    if (!opened) {
      out.status = BackendStatus::kUnavailable;
      out.detail =
          "a record of the patient cannot be opened with the data key shared with this "
          "institution";
      out.records.clear();
      return out;
    }
    out.records.push_back(std::move(*opened));
  }
  return out;
}

std::optional<Grantee> NodeBackend::grantee(std::string_view system, std::string_view value) {
  if (system == kNodeActorSystem) {
    auto it = nodes_.find(value);
    if (it == nodes_.end()) return std::nullopt;
    return it->second;
  }
  if (system != kApiKeyActorSystem) return std::nullopt;
  auto it = identities_.find(value);
  if (it == identities_.end()) return std::nullopt;
  // The institution's own identities read as the institution.
  if (!it->second) return Grantee{signer_->public_key(), box_key_};
  const SecretSeed own = identity_seed(seed_, value);
  return Grantee{make_signer(mode_, own)->public_key(), box_keys_of(own).public_key};
}

std::optional<PatientStatement> NodeBackend::sign_as_patient(const UserId& user, PatientAct act,
                                                             std::optional<X25519Public> seal_for) {
  const std::optional<SecretSeed> seed = custody_.seed_of(user);
  if (!seed) return std::nullopt;
  if (auto* g = std::get_if<ConsentGrant>(&act); g && seal_for)
    g->key = seal_data_key(data_key_of(*seed), *seal_for);
  const auto patient = make_signer(mode_, *seed);
  PatientStatement st{
      user, patient->public_key(), wall_clock_us(), secure_random_u64(), std::move(act), {}};
  sign_statement(st, *patient);
  return st;
}

std::vector<BackendReply> NodeBackend::send_acts(const Identity& who,
                                                 std::span<const PatientStatement> acts) {
  std::vector<ClientRequest> requests;
  for (const PatientStatement& st : acts) requests.push_back(PatientActRequest{st});
  std::vector<ClientReply> replies = exchange(who, std::move(requests));
  std::vector<BackendReply> out;
  for (const ClientReply& r : replies) out.push_back(reply_of(r));
  return out;
}

}  // namespace mhr::fhir
