#include "edge_node/record_node.hpp"

#include <algorithm>
#include <array>

#include "common/backoff.hpp"
#include "common/client_codec.hpp"
#include "common/key_wrap.hpp"
#include "common/verification.hpp"

namespace mhr {

namespace {

constexpr std::uint64_t kTickTag = 1;
constexpr std::size_t kMaxHistoryBatchBytes = 4u << 20;

// Keys of the kPending and kUsers tables.
constexpr std::uint8_t kPendingRegistration = 'g';
constexpr std::uint8_t kPendingRecord = 's';
constexpr std::uint8_t kPendingSync = 'h';
constexpr std::uint8_t kParkedRecord = 'u';
constexpr std::uint8_t kRegisteredUser = 'r';

StoreKey parked_key(const UserId& user, NetworkId network, std::uint64_t seq) {
  return tagged_key(kParkedRecord, record_key(user, network, seq));
}

// A verified record waiting for its predecessor (out of order arrival).
struct ParkedRecord {
  Record record;
  RecordPlace place;
};

Bytes encode_parked(const ParkedRecord& p) {
  Writer w;
  w.u8(kCodecVersion);
  Codec<Record>::write(w, p.record);
  Codec<RecordPlace>::write(w, p.place);
  return w.take();
}

ParkedRecord decode_parked(ByteView in) {
  Reader r(in);
  r.version();
  ParkedRecord p{Codec<Record>::read(r), Codec<RecordPlace>::read(r)};
  MHR_ASSERT_MSG(!r.finish_error(), "stored parked record does not decode");
  return p;
}

template <class T>
T decode_stored(ByteView in) {
  auto v = decode<T>(in);
  MHR_ASSERT_MSG(v.ok(), "stored value does not decode");
  return std::move(v).value();
}

}  // namespace

// Writes records in chain order within one atomic batch: records that
// arrive before their predecessor are parked and linked when it comes.
class RecordNode::ChainWriter {
 public:
  explicit ChainWriter(RecordNode& node) : node_(node) {}

  // Writes the batch (one transaction) and starts fetching the off-chain
  // objects its records name. Only a fetch needs the tick now: a tick per
  // block on every member was a fifth of a large simulation's events.
  void write() {
    node_.env_.store().write(batch);
    node_.env_.count(Counter::kRecordsStored, static_cast<std::int64_t>(stored));
    if (node_.blobs_.start_staged()) node_.want_tick(node_.env_.now_us());
  }

  // False when the record conflicts with a different record at its position.
  bool add(const Record& r, const Hash& h, const RecordPlace& place) {
    if (added_.contains(h) || node_.chain_.has_record_hash(h)) return true;
    auto t = tip(r.user, r.network);
    if (!chain_continuity_error(r, t)) {
      put(r, h, place);
      link_parked(r.user, r.network, r.sequence + 1);
      return true;
    }
    std::uint64_t next = t ? t->sequence + 1 : 0;
    if (r.sequence > next) {
      const StoreKey key = parked_key(r.user, r.network, r.sequence);
      batch.put(Table::kPending, key, encode_parked({r, place}));
      parked_here_.emplace(Bytes(key), ParkedRecord{r, place});
      parked_users.insert(r.user);
      return true;
    }
    return false;
  }

  WriteBatch batch;
  std::uint64_t stored = 0;
  std::set<UserId> parked_users;  // users with records waiting behind a gap

 private:
  std::optional<ChainTip> tip(const UserId& u, NetworkId n) {
    auto it = tips_.find({u, n});
    if (it != tips_.end()) return it->second;
    return node_.chain_.tip(u, n);
  }

  void put(const Record& r, const Hash& h, const RecordPlace& place) {
    node_.chain_.put_record(batch, r, h, place);
    if (is_patient_act(r)) node_.apply_patient_act(batch, r, h);
    if (r.off_chain) node_.blobs_.want_in(batch, r.user, *r.off_chain);
    tips_[{r.user, r.network}] = ChainTip{r.sequence, h};
    added_.insert(h);
    ++stored;
  }

  // Records parked earlier, in this very batch or in the store (looked up
  // for every record stored, and seldom there: read in place).
  std::optional<ParkedRecord> parked(const StoreKey& key) {
    if (!parked_here_.empty()) {
      if (auto it = parked_here_.find(Bytes(key)); it != parked_here_.end()) {
        ParkedRecord p = std::move(it->second);
        parked_here_.erase(it);
        return p;
      }
    }
    std::optional<ParkedRecord> found;
    node_.env_.store().read(Table::kPending, key,
                            [&found](ByteView v) { found = decode_parked(v); });
    return found;
  }

  void link_parked(const UserId& u, NetworkId n, std::uint64_t seq) {
    for (;;) {
      const StoreKey key = parked_key(u, n, seq);
      std::optional<ParkedRecord> found = parked(key);
      if (!found) return;
      batch.del(Table::kPending, key);
      ParkedRecord& p = *found;
      Hash h = record_hash(p.record);
      if (chain_continuity_error(p.record, tip(u, n))) {
        node_.env_.count(Counter::kVerifyFailures);
        return;
      }
      put(p.record, h, p.place);
      ++seq;
    }
  }

  RecordNode& node_;
  // A writer lives for one block or history page: its per-record tables
  // take their nodes from an arena that starts on the stack and is freed
  // whole with the writer.
  std::array<std::byte, 8192> arena_bytes_;
  std::pmr::monotonic_buffer_resource arena_{arena_bytes_.data(), arena_bytes_.size()};
  std::pmr::map<std::pair<UserId, NetworkId>, ChainTip> tips_{&arena_};
  std::pmr::set<Hash> added_{&arena_};
  std::map<Bytes, ParkedRecord> parked_here_;
};

RecordNode::RecordNode(Env& env, TopologyPtr topology)
    : env_(env),
      topology_(std::move(topology)),
      chain_(env.store()),
      network_(topology_->network_of(env.self())),
      follower_(env, *topology_, network_),
      book_(env.store()),
      audit_(env.store()),
      blobs_(env, topology_->params(), follower_.contact()),
      tick_(kTickTag, kRetryTickQuantumUs) {
  MHR_ASSERT(topology_->node(env.self()).role == NodeRole::kRecord);
}

// ---- start: rebuild volatile state from the store ---------------------------

std::string RecordNode::work_in_flight() const {
  if (pending_.empty() && syncs_.empty() && registrations_.empty()) return {};
  return std::to_string(pending_.size()) + " records, " + std::to_string(registrations_.size()) +
         " registrations, " + std::to_string(syncs_.size()) + " history syncs pending";
}

void RecordNode::start() {
  MHR_ASSERT_MSG(topology_->node(env_.self()).key == env_.signer().public_key(),
                 "node key differs from the topology's");
  follower_.load(chain_);
  audit_.load();
  blobs_.load();
  anchor_.reset();
  env_.store().scan_prefix(Table::kUsers, Bytes{kRegisteredUser}, [&](ByteView k, ByteView) {
    registered_.insert(UserId::from_view(k.subspan(1)));
    return true;
  });
  env_.store().scan_prefix(Table::kPending, Bytes{kPendingRegistration}, [&](ByteView, ByteView v) {
    auto reg = decode_stored<Registration>(v);
    registrations_[reg.user] = {reg, entry_hash(Entry{reg}), {}, 0, env_.now_us()};
    return true;
  });
  std::vector<Record> records;
  env_.store().scan_prefix(Table::kPending, Bytes{kPendingRecord}, [&](ByteView, ByteView v) {
    records.push_back(decode_stored<Record>(v));
    return true;
  });
  std::sort(records.begin(), records.end(),
            [](const Record& a, const Record& b) { return a.sequence < b.sequence; });
  for (Record& r : records) {
    Hash h = record_hash(r);
    pending_by_user_[r.user].push_back(h);
    pending_[h] = {std::move(r), std::nullopt, 0, env_.now_us()};
  }
  env_.store().scan_prefix(Table::kPending, Bytes{kPendingSync}, [&](ByteView k, ByteView) {
    syncs_[UserId::from_view(k.subspan(1))] = {env_.random_u64(), 0, 0, env_.now_us(), 0};
    return true;
  });
  follower_.request_catch_up();
  want_tick(env_.now_us());
}

// ---- client requests ---------------------------------------------------------

void RecordNode::on_client(ClientRequestId id, const ClientRequest& request) {
  if (auto why = credential_refusal(request)) {
    const Credential* c = credential_of(request);
    const auto* act = std::get_if<PatientActRequest>(&request);
    deny(id, c ? c->key : act->statement.patient, request_user(request), std::move(*why));
    return;
  }
  std::visit(
      [&](const auto& req) {
        using T = std::decay_t<decltype(req)>;
        if constexpr (std::is_same_v<T, RegisterUserRequest>) register_user(id, req);
        if constexpr (std::is_same_v<T, SubmitRecordRequest>) submit_record(id, req);
        if constexpr (std::is_same_v<T, ReadUserRequest>) read_user(id, req);
        if constexpr (std::is_same_v<T, PatientActRequest>) patient_act(id, req);
        if constexpr (std::is_same_v<T, AuditRequest>) read_audit(id, req);
        if constexpr (std::is_same_v<T, PutBlobRequest>) put_blob(id, req);
        if constexpr (std::is_same_v<T, ReadBlobRequest>) read_blob(id, req);
      },
      request);
}

// A request is taken only when signed by its requester for this node,
// recently, and never before.
std::optional<std::string> RecordNode::credential_refusal(const ClientRequest& request) {
  Credential credential;
  if (const auto* act = std::get_if<PatientActRequest>(&request)) {
    const PatientStatement& s = act->statement;
    if (auto e = statement_error(s, env_.verifier())) return *e;
    credential = {s.patient, s.time_us, s.nonce, s.signature};
  } else {
    credential = *credential_of(request);
    if (!verify_credential(credential, env_.self(), request_digest(request), env_.verifier()))
      return "the request's signature does not verify";
  }
  const auto verdict = replay_.admit(credential, env_.now_us());
  if (verdict != ReplayGuard::Verdict::kFresh) return std::string(replay_verdict_text(verdict));
  return std::nullopt;
}

void RecordNode::deny(ClientRequestId id, const PublicKey& actor, const UserId& user,
                      std::string why) {
  env_.count(Counter::kAccessRefused);
  append_audit(actor, user, AuditAction::kRefused, 0, why);
  env_.reply(id, make_reply(ReplyStatus::kDenied, std::move(why)));
}

void RecordNode::append_audit(const PublicKey& actor, const UserId& user, AuditAction action,
                              std::uint32_t records, std::string detail) {
  WriteBatch b;
  audit_.append(b, {0, {}, env_.now_us(), actor, user, action, records, std::move(detail)});
  env_.store().write(b);
  want_tick(std::max(env_.now_us(), next_anchor_at_us_));
}

void RecordNode::register_user(ClientRequestId id, const RegisterUserRequest& req) {
  if (user_id_of(req.by.key) != req.user) {
    deny(id, req.by.key, req.user, "only the patient may register at a record node");
    return;
  }
  if (registered_.contains(req.user)) {
    env_.reply(id, make_reply(ReplyStatus::kOk, "already registered"));
    return;
  }
  auto it = registrations_.find(req.user);
  if (it != registrations_.end()) {
    it->second.clients.push_back(id);
    return;
  }
  Registration reg{req.user, network_, env_.self(), env_.signer().public_key(), env_.now_us(), {}};
  sign_registration(reg, env_.signer());
  WriteBatch b;
  b.put(Table::kPending, tagged_key(kPendingRegistration, req.user.view()), encode(reg));
  env_.store().write(b);
  auto& p = registrations_[req.user] = {reg, entry_hash(Entry{reg}), {id}, 0, 0};
  send_registration(p);
}

void RecordNode::send_registration(PendingRegistration& p) {
  if (p.attempts > 0) retrying();
  env_.send(consensus(), make_message(TxRequest{Transaction{p.registration}}));
  p.next_at_us = env_.now_us() + backoff_us(params(), ++p.attempts);
  want_tick(p.next_at_us);
}

void RecordNode::submit_record(ClientRequestId id, const SubmitRecordRequest& req) {
  if (!is_staff(topology_->node(env_.self()), req.by.key) && user_id_of(req.by.key) != req.user) {
    deny(id, req.by.key, req.user, "only this institution's staff or the patient may write");
    return;
  }
  if (req.content_type == kPatientActType) {
    env_.reply(id,
               make_reply(ReplyStatus::kRejected, "patient acts are sent as signed statements"));
    return;
  }
  if (req.off_chain && !blobs_.holds(*req.off_chain)) {
    env_.reply(id, make_reply(ReplyStatus::kRejected,
                              "the off-chain object is not here: upload it first "
                              "(mhr submit --blob)"));
    return;
  }
  if (!req.off_chain && !looks_sealed(req.payload.view())) {
    env_.reply(id, make_reply(ReplyStatus::kRejected,
                              "payloads are stored encrypted only: seal it with the patient's "
                              "data key (docs/ACCESS.md)"));
    return;
  }
  queue_record(id, req);
}

void RecordNode::queue_record(ClientRequestId id, const SubmitRecordRequest& req) {
  if (!registered_.contains(req.user)) {
    env_.reply(id, make_reply(ReplyStatus::kRejected, "user is not registered at this node"));
    return;
  }
  if (req.content_type.size() > kMaxContentTypeBytes ||
      req.payload.size() > kMaxInlinePayloadBytes || (req.off_chain && !req.payload.empty())) {
    env_.reply(id, make_reply(ReplyStatus::kRejected, "record too large or malformed"));
    return;
  }
  if (pending_.size() >= kMaxPendingRecords) {
    env_.reply(id, make_reply(ReplyStatus::kUnavailable, "too many records in flight"));
    return;
  }
  Record r = next_record_for(req.user, req);
  Hash h = record_hash(r);
  WriteBatch b;
  b.put_encoded(Table::kPending, tagged_key(kPendingRecord, h.view()), r);
  env_.store().write(b);
  pending_by_user_[req.user].push_back(h);
  auto& p = pending_[h] = {std::move(r), id, 0, 0};
  if (sparse() && params().presence == PresenceMode::kBroadcast) {
    // The published flow: every node of the network says whether it holds
    // the user; this node holds it by definition.
    auto query = make_message(PresenceQuery{req.user, h});
    for (NodeId m : topology_->members_of(network_))
      if (m != env_.self()) env_.send(m, query);
    env_.send(consensus(), make_message(PresenceFlag{req.user, h, true}));
  }
  send_pending(p);
}

Record RecordNode::next_record_for(const UserId& user, const SubmitRecordRequest& req) {
  Record r;
  r.user = user;
  r.network = network_;
  r.author_node = env_.self();
  r.author_key = env_.signer().public_key();
  auto queued = pending_by_user_.find(user);
  if (queued != pending_by_user_.end() && !queued->second.empty()) {
    const Record& last = pending_.at(queued->second.back()).record;
    r.sequence = last.sequence + 1;
    r.prev_hash = queued->second.back();
  } else if (auto t = chain_.tip(user, network_)) {
    r.sequence = t->sequence + 1;
    r.prev_hash = t->hash;
  }
  r.created_at_us = env_.now_us();
  r.content_type = req.content_type;
  r.category = req.category;
  r.payload = req.payload;
  r.off_chain = req.off_chain;
  r.supersedes = req.supersedes;
  sign_record(r, env_.signer());
  return r;
}

void RecordNode::send_pending(PendingRecord& p) {
  if (p.attempts > 0) retrying();
  env_.send(consensus(), make_message(StoreRequest{p.record}));
  p.next_at_us = env_.now_us() + backoff_us(params(), ++p.attempts);
  want_tick(p.next_at_us);
}

void RecordNode::read_user(ClientRequestId id, const ReadUserRequest& req) {
  if (!registered_.contains(req.user)) {
    env_.reply(id, make_reply(ReplyStatus::kRejected, "user is not registered at this node"));
    return;
  }
  const ReadAccess access = read_access(req.user, req.by.key, topology_->node(env_.self()),
                                        book_.grants_in_force(req.user, env_.now_us()));
  if (access.standing == Standing::kNone) {
    deny(id, req.by.key, req.user,
         "no consent: not the patient, not this institution's staff, "
         "and no grant in force");
    return;
  }
  ClientReply reply = make_reply(ReplyStatus::kOk, std::string(standing_name(access.standing)));
  std::set<std::pair<NetworkId, std::uint64_t>> headers;
  chain_.for_each_record(req.user, [&](const Hash& h, const Record& r) {
    if (!access.may_read(r) || reply.records.size() >= kMaxReplyRecords) return;
    auto place = chain_.place_of(h);
    MHR_ASSERT_MSG(place.has_value(), "stored record without its place");
    reply.records.push_back(r);
    headers.emplace(place->network, place->height);
    reply.proofs.push_back(std::move(*place));
  });
  for (const auto& [network, height] : headers) {
    auto sh = chain_.header(network, height);
    MHR_ASSERT_MSG(sh.has_value(), "stored record without its header");
    reply.headers.push_back(std::move(*sh));
  }

  reply.keys = keys_for_reader(req.user, req.by.key, access.key_holder);
  if (book_.erased(req.user)) reply.detail += "; the patient's data keys were erased";
  append_audit(req.by.key, req.user, AuditAction::kRead,
               static_cast<std::uint32_t>(reply.records.size()), reply.detail);
  env_.reply(id, std::move(reply));
}

// The data keys sealed for the reader, and for the key holder it reads as
// (the institution, for its staff).
std::vector<WrappedKey> RecordNode::keys_for_reader(const UserId& user, const PublicKey& reader,
                                                    const PublicKey& key_holder) const {
  std::vector<WrappedKey> keys = book_.keys_for(user, reader);
  if (key_holder != reader)
    for (WrappedKey& k : book_.keys_for(user, key_holder)) keys.push_back(k);
  if (keys.size() > kMaxKeyShares) keys.resize(kMaxKeyShares);
  return keys;
}

// ---- off-chain objects --------------------------------------------------------

void RecordNode::put_blob(ClientRequestId id, const PutBlobRequest& req) {
  if (!is_staff(topology_->node(env_.self()), req.by.key) && user_id_of(req.by.key) != req.user) {
    deny(id, req.by.key, req.user, "only this institution's staff or the patient may write");
    return;
  }
  if (!registered_.contains(req.user)) {
    env_.reply(id, make_reply(ReplyStatus::kRejected, "user is not registered at this node"));
    return;
  }
  if (auto why = blobs_.upload(req)) {
    env_.reply(id, make_reply(ReplyStatus::kRejected, std::move(*why)));
    return;
  }
  env_.reply(id, make_reply(ReplyStatus::kOk, "stored", req.blob));
}

// A part of an object is served to whoever may read a record of the user
// that names it; the manifest read is audited and carries the data keys.
void RecordNode::read_blob(ClientRequestId id, const ReadBlobRequest& req) {
  if (!registered_.contains(req.user)) {
    env_.reply(id, make_reply(ReplyStatus::kRejected, "user is not registered at this node"));
    return;
  }
  std::optional<Record> naming;
  chain_.for_each_record(req.user, [&](const Hash&, const Record& r) {
    if (!naming && r.off_chain && r.off_chain->hash == req.blob) naming = r;
  });
  if (!naming) {
    env_.reply(id, make_reply(ReplyStatus::kRejected, "no record of this user names that object"));
    return;
  }
  const ReadAccess access = read_access(req.user, req.by.key, topology_->node(env_.self()),
                                        book_.grants_in_force(req.user, env_.now_us()));
  if (!access.may_read(*naming)) {
    deny(id, req.by.key, req.user, "no consent for the record that names this object");
    return;
  }
  std::optional<Bytes> bytes;
  if (req.part == kManifestPart) {
    if (auto m = blobs_.manifest(req.blob); m && blobs_.holds(*naming->off_chain))
      bytes = encode(*m);
  } else {
    bytes = blobs_.chunk(req.blob, req.part);
  }
  if (!bytes) {
    env_.reply(id, make_reply(ReplyStatus::kUnavailable,
                              "this node is still fetching the object; try again shortly"));
    return;
  }
  ClientReply reply = make_reply(ReplyStatus::kOk, std::string(standing_name(access.standing)));
  reply.blob_part = SharedBytes(std::move(*bytes));
  if (req.part == kManifestPart) {
    reply.keys = keys_for_reader(req.user, req.by.key, access.key_holder);
    append_audit(req.by.key, req.user, AuditAction::kRead, 1,
                 "off-chain object " + req.blob.short_hex());
  }
  env_.reply(id, std::move(reply));
}

void RecordNode::patient_act(ClientRequestId id, const PatientActRequest& req) {
  const PatientStatement& s = req.statement;
  if (!registered_.contains(s.user)) {
    env_.reply(id, make_reply(ReplyStatus::kRejected, "user is not registered at this node"));
    return;
  }
  static constexpr AuditAction kActions[] = {AuditAction::kGrant, AuditAction::kRevoke,
                                             AuditAction::kKeyShare, AuditAction::kErase};
  std::string detail;
  if (const auto* g = std::get_if<ConsentGrant>(&s.act)) detail = "to " + g->grantee.short_hex();
  if (const auto* r = std::get_if<ConsentRevocation>(&s.act)) detail = "of " + r->grant.short_hex();
  append_audit(s.patient, s.user, kActions[s.act.index()], 0, detail);
  SubmitRecordRequest record{s.user,
                             std::string(kPatientActType),
                             Category::kAdministrative,
                             SharedBytes(encode(s)),
                             std::nullopt,
                             std::nullopt,
                             {}};
  queue_record(id, record);
}

void RecordNode::read_audit(ClientRequestId id, const AuditRequest& req) {
  if (user_id_of(req.by.key) != req.user && !is_staff(topology_->node(env_.self()), req.by.key)) {
    deny(id, req.by.key, req.user, "the audit is for the patient and this institution's staff");
    return;
  }
  ClientReply reply = make_reply(ReplyStatus::kOk, "");
  reply.audit = audit_.for_user(req.user, kMaxAuditEntriesPerReply);
  env_.reply(id, std::move(reply));
}

// A patient act becomes effective on this holder as its record is stored.
void RecordNode::apply_patient_act(WriteBatch& batch, const Record& r, const Hash& h) {
  if (r.erased_payload) return;  // erased where it came from: nothing left to apply
  auto s = statement_of(r);
  if (!s || s->user != r.user || statement_error(*s, env_.verifier())) {
    env_.count(Counter::kVerifyFailures);
    env_.log(LogLevel::kWarn, "a patient act that does not verify is ignored");
    return;
  }
  book_.apply(batch, *s);
  if (carries_keys(*s) && book_.erased(s->user, batch)) chain_.erase_payload(batch, r, h);
  if (std::holds_alternative<Erasure>(s->act)) {
    const std::size_t erased = erase_sealed_keys(batch, s->user);
    audit_.append(batch, {0,
                          {},
                          env_.now_us(),
                          s->patient,
                          s->user,
                          AuditAction::kEraseApplied,
                          static_cast<std::uint32_t>(erased),
                          "wrapped keys destroyed"});
  }
}

// Erasure by key destruction: every stored patient act of the user that
// carries sealed data keys loses its payload (its hash, signature and
// proof stay valid), also those put earlier in this very batch.
std::size_t RecordNode::erase_sealed_keys(WriteBatch& batch, const UserId& user) {
  std::vector<std::pair<Record, Hash>> doomed;
  auto consider = [&](const Hash& h, const Record& r) {
    if (!is_patient_act(r) || r.erased_payload) return;
    auto s = statement_of(r);
    if (s && carries_keys(*s)) doomed.emplace_back(r, h);
  };
  chain_.for_each_record(user, consider);
  const Bytes prefix = record_key_prefix(user);
  for (const WriteBatch::Op& put : batch.puts_with_prefix(Table::kRecords, prefix)) {
    const ByteView v = put.value;
    consider(Hash::from_view(v.first(Hash::kSize)), decode_stored<Record>(v.subspan(Hash::kSize)));
  }
  for (const auto& [r, h] : doomed) chain_.erase_payload(batch, r, h);
  return doomed.size();
}

// ---- messages ------------------------------------------------------------------

void RecordNode::on_message(NodeId from, const Message& message) {
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, PresenceQuery>) on_presence_query(m);
        if constexpr (std::is_same_v<T, BlockDelivery>) on_delivery(from, m);
        if constexpr (std::is_same_v<T, Committed>) on_committed(m);
        if constexpr (std::is_same_v<T, CommittedTip>) follower_.on_committed_tip(from, m);
        if constexpr (std::is_same_v<T, Rejected>) on_rejected(m);
        if constexpr (std::is_same_v<T, HistoryRequest>) on_history_request(m);
        if constexpr (std::is_same_v<T, HistoryBatch>) on_history_batch(m);
        if constexpr (std::is_same_v<T, BlobRequest>) blobs_.on_request(m);
        if constexpr (std::is_same_v<T, BlobPart>) {
          blobs_.on_part(m);
          want_tick(env_.now_us());
        }
      },
      message);
}

void RecordNode::on_presence_query(const PresenceQuery& q) {
  env_.send(consensus(),
            make_message(PresenceFlag{q.user, q.record_hash, registered_.contains(q.user)}));
}

void RecordNode::on_delivery(NodeId from, const BlockDelivery& d) {
  if (auto e = header_error(d.header, *topology_, env_.verifier())) {
    env_.count(Counter::kVerifyFailures);
    env_.log(LogLevel::kWarn, "delivery refused: " + *e);
    follower_.on_unverifiable_delivery(d);
    return;
  }
  if (d.header.header.network != network_) {
    apply_foreign_block(from, d);
    return;
  }
  follower_.on_delivery(from, d, chain_,
                        [this](NodeId, const BlockDelivery& b) { return apply_own_block(b); });
}

ChainFollower::Applied RecordNode::apply_own_block(const BlockDelivery& d) {
  if ((d.to && *d.to != env_.self()) || (sparse() && meant_for_another(d))) {
    env_.count(Counter::kVerifyFailures);
    env_.log(LogLevel::kWarn, "a delivery meant for another node refused");
    return ChainFollower::Applied::kRefused;
  }
  const BlockHeader& header = d.header.header;
  // A delivery with one bad entry is refused whole, header included: taking
  // the header would make the honest delivery of that height look like a
  // repeat (any replica may deliver, a faulty one too: group sweep, seed 2326).
  std::vector<Hash> hashes;
  hashes.reserve(d.entries.size());
  for (const ProvenEntry& pe : d.entries) {
    hashes.push_back(entry_hash(pe.entry));
    if (auto e =
            entry_error(pe.entry, hashes.back(), pe.proof, header, *topology_, env_.verifier())) {
      env_.count(Counter::kVerifyFailures);
      env_.log(LogLevel::kWarn, "delivery refused, an entry is bad: " + *e);
      return ChainFollower::Applied::kRefused;
    }
  }
  ChainWriter writer(*this);
  chain_.put_header(writer.batch, d.header);
  for (std::size_t i = 0; i < d.entries.size(); ++i) {
    const ProvenEntry& pe = d.entries[i];
    const Hash& h = hashes[i];
    if (const auto* anchor = std::get_if<AuditAnchor>(&pe.entry)) {
      store_own_anchor(writer.batch, *anchor, header, pe.proof);
      continue;
    }
    if (const auto* reg = std::get_if<Registration>(&pe.entry)) {
      if (reg->node != env_.self() || registered_.contains(reg->user)) continue;
      writer.batch.put(Table::kUsers, tagged_key(kRegisteredUser, reg->user.view()), {});
      registered_.insert(reg->user);
      continue;
    }
    const Record& r = std::get<Record>(pe.entry);
    if (sparse() && !registered_.contains(r.user)) {
      // Sparse sharing: never keep a record of a user not registered here.
      env_.count(Counter::kVerifyFailures);
      env_.log(LogLevel::kWarn, "record of a user not registered here refused");
      continue;
    }
    if (!writer.add(r, h, {header.network, header.height, pe.proof})) {
      env_.count(Counter::kVerifyFailures);
      env_.log(LogLevel::kError, "record conflicts with the user's chain");
    }
  }
  writer.write();
  for (const UserId& u : writer.parked_users) start_sync(u);  // fill the gap
  return ChainFollower::Applied::kStored;
}

bool RecordNode::meant_for_another(const BlockDelivery& d) const {
  std::set<UserId> joining;  // registered here by this very block
  for (const ProvenEntry& pe : d.entries) {
    if (const auto* reg = std::get_if<Registration>(&pe.entry); reg && reg->node == env_.self())
      joining.insert(reg->user);
    const auto* r = std::get_if<Record>(&pe.entry);
    if (r && !registered_.contains(r->user) && !joining.contains(r->user)) return true;
  }
  return false;
}

void RecordNode::apply_foreign_block(NodeId from, const BlockDelivery& d) {
  const BlockHeader& header = d.header.header;
  ChainWriter writer(*this);
  if (!chain_.header(header.network, header.height)) chain_.put_header(writer.batch, d.header);
  bool early = false;  // records of a user whose registration here is not applied yet
  for (const ProvenEntry& pe : d.entries) {
    const Record* r = std::get_if<Record>(&pe.entry);
    const Hash h = r ? record_hash(*r) : Hash{};
    if (!r || record_entry_error(*r, h, pe.proof, header, *topology_, env_.verifier())) {
      env_.count(Counter::kVerifyFailures);
      continue;
    }
    if (sparse() && !registered_.contains(r->user)) {
      // The consensus node sends a user's records only to nodes a
      // registration it ordered names: this one has not applied that block
      // yet. No acknowledgement, so the delivery comes again.
      early = true;
      continue;
    }
    if (!writer.add(*r, h, {header.network, header.height, pe.proof}))
      env_.count(Counter::kVerifyFailures);
  }
  writer.write();
  for (const UserId& u : writer.parked_users) start_sync(u);  // fill the gap
  // Acknowledges this content: the same block may come again with others.
  if (!early) env_.send(from, make_message(Ack{message_hash(Message{d})}));
}

void RecordNode::on_committed(const Committed& c) {
  for (const Hash& h : c.entry_hashes) {
    if (anchor_ && anchor_->hash == h) {
      anchor_.reset();
      continue;
    }
    if (pending_.contains(h)) {
      finish_pending(h, ReplyStatus::kOk, "committed");
      continue;
    }
    for (auto it = registrations_.begin(); it != registrations_.end(); ++it) {
      if (it->second.hash != h) continue;
      finish_registration(it->first);
      break;
    }
  }
}

void RecordNode::finish_registration(UserId user) {
  auto it = registrations_.find(user);
  MHR_ASSERT(it != registrations_.end());
  for (ClientRequestId id : it->second.clients)
    env_.reply(id, make_reply(ReplyStatus::kOk, "registered", it->second.hash));
  WriteBatch b;
  b.del(Table::kPending, tagged_key(kPendingRegistration, user.view()));
  env_.store().write(b);
  registrations_.erase(it);
  // Confirmed means every index node knows the user is here now: from
  // this moment other networks forward to us, so the history pulled now
  // (and in the rounds after) leaves no gap.
  if (sparse()) {
    auto running = syncs_.find(user);
    if (running == syncs_.end()) {
      start_sync(user);
    } else {
      running->second.round = 0;  // a sync begun earlier counts its rounds from now
    }
  }
}

void RecordNode::finish_pending(const Hash& hash, ReplyStatus status, std::string detail) {
  auto it = pending_.find(hash);
  MHR_ASSERT(it != pending_.end());
  if (it->second.client)
    env_.reply(*it->second.client, make_reply(status, std::move(detail), hash));
  auto& queue = pending_by_user_[it->second.record.user];
  queue.erase(std::remove(queue.begin(), queue.end(), hash), queue.end());
  if (queue.empty()) pending_by_user_.erase(it->second.record.user);
  WriteBatch b;
  b.del(Table::kPending, tagged_key(kPendingRecord, hash.view()));
  env_.store().write(b);
  pending_.erase(it);
}

void RecordNode::on_rejected(const Rejected& r) {
  if (!pending_.contains(r.entry_hash)) return;
  if (r.reason == RejectReason::kStaleChainTip && r.tip) {
    rebuild_after_stale(r.entry_hash, *r.tip);
    return;
  }
  env_.count(Counter::kRecordsRejected);
  const std::string reason(reject_reason_name(r.reason));
  const std::vector<Hash> chained = chained_on(r.entry_hash);
  finish_pending(r.entry_hash, ReplyStatus::kRejected, "refused: " + reason);
  // Records chained on a refused one can never commit: each names it as
  // its predecessor. Left pending they would wait for it for ever (group
  // sweep with pipelining, seed 1381: a record refused as "not registered"
  // while the registration was still being ordered).
  for (const Hash& h : chained) {
    env_.count(Counter::kRecordsRejected);
    finish_pending(h, ReplyStatus::kRejected, "refused: an earlier record was refused: " + reason);
  }
}

// The pending records of the user that follow `first` in its chain.
std::vector<Hash> RecordNode::chained_on(const Hash& first) const {
  const Record& r = pending_.at(first).record;
  std::vector<Hash> out;
  std::set<Hash> links{first};
  for (const Hash& h : pending_by_user_.at(r.user)) {
    if (!links.contains(pending_.at(h).record.prev_hash)) continue;
    links.insert(h);
    out.push_back(h);
  }
  return out;
}

// Another record took this one's place in the user's chain: this record,
// and the pending ones chained on it, move behind the tip (behind this
// node's own pending records that continue the tip, if any: after a restart
// or a leader change a stale duplicate may come back while its successors
// were ordered already, and those must stay as they are).
void RecordNode::rebuild_after_stale(const Hash& rejected, const ChainTip& tip) {
  const UserId user = pending_.at(rejected).record.user;
  const PendingQueue queue = pending_by_user_[user];
  MHR_ASSERT(std::find(queue.begin(), queue.end(), rejected) != queue.end());
  std::set<Hash> moving{rejected};
  std::deque<Hash> stays, moved;
  bool after = false;
  for (const Hash& h : queue) {
    after = after || h == rejected;
    if (after && (h == rejected || moving.contains(pending_.at(h).record.prev_hash))) {
      moving.insert(h);
      moved.push_back(h);
    } else {
      stays.push_back(h);
    }
  }
  ChainTip link = tip;
  for (const Hash& h : stays) {
    const Record& r = pending_.at(h).record;
    if (r.sequence == link.sequence + 1 && r.prev_hash == link.hash) link = {r.sequence, h};
  }
  WriteBatch b;
  std::deque<Hash> rebuilt;
  for (const Hash& old : moved) {
    PendingRecord p = std::move(pending_.at(old));
    pending_.erase(old);
    b.del(Table::kPending, tagged_key(kPendingRecord, old.view()));
    p.record.sequence = link.sequence + 1;
    p.record.prev_hash = link.hash;
    sign_record(p.record, env_.signer());
    Hash h = record_hash(p.record);
    b.put(Table::kPending, tagged_key(kPendingRecord, h.view()), encode(p.record));
    link = {p.record.sequence, h};
    p.attempts = 0;
    rebuilt.push_back(h);
    pending_[h] = std::move(p);
  }
  env_.store().write(b);
  stays.insert(stays.end(), rebuilt.begin(), rebuilt.end());
  pending_by_user_[user].assign(stays.begin(), stays.end());
  for (const Hash& h : rebuilt) send_pending(pending_.at(h));
}

// ---- history: answering as a holder, pulling as a new node -------------------

void RecordNode::on_history_request(const HistoryRequest& req) {
  if (req.route.empty() || req.route.size() > kMaxRouteHops) return;
  answer_history(req);
}

void RecordNode::answer_history(const HistoryRequest& req) {
  std::map<NetworkId, std::uint64_t> known;
  for (const KnownChain& k : req.known) known[k.network] = k.next_sequence;
  HistoryBatch batch{req.request_id, req.user, {}, {}, false, req.route};
  std::map<std::pair<NetworkId, std::uint64_t>, std::uint32_t> header_index;
  std::size_t bytes = 0;
  auto flush = [&](bool last) {
    batch.last = last;
    env_.send(req.route.back(), make_message(batch));
    batch.headers.clear();
    batch.items.clear();
    header_index.clear();
    bytes = 0;
  };
  chain_.for_each_record(req.user, [&](const Hash& h, const Record& r) {
    auto k = known.find(r.network);
    if (k != known.end() && r.sequence < k->second) return;
    auto place = chain_.place_of(h);
    MHR_ASSERT_MSG(place.has_value(), "stored record without its place");
    auto key = std::make_pair(place->network, place->height);
    auto hi = header_index.find(key);
    if (hi == header_index.end()) {
      auto sh = chain_.header(place->network, place->height);
      if (!sh) return;  // its header has not reached this node yet
      hi = header_index.emplace(key, static_cast<std::uint32_t>(batch.headers.size())).first;
      batch.headers.push_back(std::move(*sh));
    }
    bytes += r.payload.size() + 256;
    batch.items.push_back({r, hi->second, place->proof});
    if (batch.items.size() >= kMaxHistoryRecords || batch.headers.size() >= kMaxHistoryHeaders ||
        bytes >= kMaxHistoryBatchBytes)
      flush(false);
  });
  flush(true);
}

void RecordNode::start_sync(const UserId& user, std::uint32_t repairs) {
  if (syncs_.contains(user)) return;
  WriteBatch b;
  b.put(Table::kPending, tagged_key(kPendingSync, user.view()), {});
  env_.store().write(b);
  auto& s = syncs_[user] = {0, 0, 0, 0, 0, repairs};
  send_history_request(user, s);
}

void RecordNode::send_history_request(const UserId& user, HistorySync& s) {
  if (s.attempts > 0) retrying();
  s.request_id = env_.random_u64();
  // Rounds alternate between a holder here and the other networks.
  env_.send(consensus(),
            make_message(HistoryRequest{
                s.request_id, user, chain_.known_chains(user), {env_.self()}, s.round % 2 == 1}));
  s.next_at_us = env_.now_us() + backoff_us(params(), ++s.attempts);
  want_tick(s.next_at_us);
}

void RecordNode::on_history_batch(const HistoryBatch& batch) {
  if (batch.route.size() != 1 || batch.route.back() != env_.self()) return;
  auto sync = syncs_.find(batch.user);
  if (sync == syncs_.end() || (sparse() && !registered_.contains(batch.user))) return;
  std::vector<bool> header_ok(batch.headers.size());
  for (std::size_t i = 0; i < batch.headers.size(); ++i) {
    const SignedHeader& sh = batch.headers[i];
    header_ok[i] = !header_error(sh, *topology_, env_.verifier());
    if (!header_ok[i]) env_.count(Counter::kVerifyFailures);
  }
  ChainWriter writer(*this);
  for (const HistoryItem& item : batch.items) {
    const Record& r = item.record;
    if (r.user != batch.user || item.header_index >= batch.headers.size() ||
        !header_ok[item.header_index]) {
      env_.count(Counter::kVerifyFailures);
      continue;
    }
    const SignedHeader& sh = batch.headers[item.header_index];
    const Hash rh = record_hash(r);
    if (record_entry_error(r, rh, item.proof, sh.header, *topology_, env_.verifier())) {
      env_.count(Counter::kVerifyFailures);
      continue;
    }
    const BlockHeader& h = sh.header;
    if (h.network != network_ && !chain_.header(h.network, h.height))
      chain_.put_header(writer.batch, sh);
    if (!writer.add(r, rh, {h.network, h.height, item.proof})) env_.count(Counter::kVerifyFailures);
  }
  writer.write();
  env_.count(Counter::kRecordsMigrated, static_cast<std::int64_t>(writer.stored));
  HistorySync& s = sync->second;
  s.records_received += writer.stored;
  if (batch.last && batch.request_id == s.request_id) finish_sync_round(batch.user, s);
}

// Records in flight while a holder answered may be missing from its answer:
// a few more rounds, spaced out, ask for anything beyond what arrived.
void RecordNode::finish_sync_round(const UserId& user, HistorySync& s) {
  // Nobody had anything for a new user: one more round covers records that
  // were in flight; a real migration gets every round.
  const std::uint32_t rounds = s.records_received == 0
                                   ? std::min<std::uint32_t>(1, params().migration_rounds)
                                   : params().migration_rounds;
  if (s.round < rounds) {
    ++s.round;
    s.attempts = 0;
    s.request_id = 0;  // waiting for the next round, not for an answer
    s.next_at_us = env_.now_us() + params().migration_settle_us;
    want_tick(s.next_at_us);
    return;
  }
  if (s.records_received > 0) env_.count(Counter::kMigrationsCompleted);
  const std::uint32_t repairs = s.repairs;
  WriteBatch b;
  b.del(Table::kPending, tagged_key(kPendingSync, user.view()));
  env_.store().write(b);
  syncs_.erase(user);
  if (has_parked(user)) {
    if (repairs < kMaxGapRepairs) {
      start_sync(user, repairs + 1);
    } else {
      env_.count(Counter::kGaveUp);
      env_.log(LogLevel::kWarn, "chain gap left open for user " + user.short_hex());
    }
  }
}

bool RecordNode::has_parked(const UserId& user) const {
  bool found = false;
  env_.store().scan_prefix(Table::kPending, tagged_key(kParkedRecord, user.view()),
                           [&](ByteView, ByteView) {
                             found = true;
                             return false;
                           });
  return found;
}

// ---- audit anchors ------------------------------------------------------------

void RecordNode::store_own_anchor(WriteBatch& batch, const AuditAnchor& a,
                                  const BlockHeader& header, const MerkleProof& proof) {
  if (a.node != env_.self()) return;
  auto head = audit_.head();
  MHR_ASSERT_MSG(head && a.sequence <= head->first, "an anchor of audit entries never written");
  audit_.put_anchor(batch, a, header.height, proof);
}

// One anchor in flight at a time, covering the head when it was sent.
void RecordNode::anchor_audit(TimeUs now) {
  if (!anchor_) {
    auto head = audit_.head();
    auto anchored = audit_.last_anchored();
    if (!head || (anchored && *anchored >= head->first) || now < next_anchor_at_us_) return;
    AuditAnchor a{env_.self(), network_, head->first, head->second, now, env_.signer().public_key(),
                  {}};
    sign_anchor(a, env_.signer());
    anchor_ = PendingAnchor{a, entry_hash(Entry{a}), 0, now};
    next_anchor_at_us_ = now + kAuditAnchorIntervalUs;
  }
  if (anchor_->next_at_us > now) return;
  if (anchor_->attempts >= params().max_attempts) {
    env_.count(Counter::kGaveUp);
    anchor_.reset();  // a later anchor covers these entries too
    return;
  }
  if (anchor_->attempts > 0) {
    env_.count(Counter::kRetries);
    retrying();
  }
  env_.send(consensus(), make_message(TxRequest{Transaction{anchor_->anchor}}));
  anchor_->next_at_us = now + backoff_us(params(), ++anchor_->attempts);
}

// ---- retries --------------------------------------------------------------------

void RecordNode::on_timer(TimerId id, std::uint64_t) {
  if (tick_.fired(id)) on_tick();
}

void RecordNode::on_tick() {
  const TimeUs now = env_.now_us();
  TimeUs next = INT64_MAX;
  const std::uint32_t max_attempts = params().max_attempts;
  std::vector<UserId> registered;
  for (auto& [user, p] : registrations_) {
    if (p.next_at_us <= now) {
      if (confirms_from_chain(p.attempts) && registered_.contains(user)) {
        registered.push_back(user);
        continue;
      }
      if (p.attempts >= max_attempts) {
        env_.count(Counter::kGaveUp);
        for (ClientRequestId id : p.clients)
          env_.reply(id, make_reply(ReplyStatus::kUnavailable, "registration not confirmed"));
        p.clients.clear();
        p.attempts = 0;  // keep trying quietly: the registration is durable
      }
      if (p.attempts > 0) env_.count(Counter::kRetries);
      send_registration(p);
    }
    next = std::min(next, p.next_at_us);
  }
  // Per user in chain order, so the consensus node can take them in one go.
  std::vector<Hash> expired;
  std::vector<Hash> stored;
  for (const auto& [user, queue] : pending_by_user_) {
    for (const Hash& h : queue) {
      PendingRecord& p = pending_.at(h);
      if (p.next_at_us <= now) {
        if (confirms_from_chain(p.attempts) && chain_.has_record_hash(h)) {
          stored.push_back(h);
          continue;
        }
        if (p.attempts >= max_attempts) {
          expired.push_back(h);
          continue;
        }
        if (p.attempts > 0) env_.count(Counter::kRetries);
        send_pending(p);
      }
      next = std::min(next, p.next_at_us);
    }
  }
  for (const Hash& h : expired) {
    env_.count(Counter::kGaveUp);
    finish_pending(h, ReplyStatus::kUnavailable, "not committed after the last retry");
  }
  for (const Hash& h : stored) finish_pending(h, ReplyStatus::kOk, "committed");
  for (const UserId& u : registered) finish_registration(u);
  for (auto it = syncs_.begin(); it != syncs_.end();) {
    HistorySync& s = it->second;
    if (s.next_at_us <= now) {
      if (s.attempts >= max_attempts) {
        env_.count(Counter::kGaveUp);
        env_.log(LogLevel::kWarn, "history sync abandoned for user " + it->first.short_hex());
        WriteBatch b;
        b.del(Table::kPending, tagged_key(kPendingSync, it->first.view()));
        env_.store().write(b);
        it = syncs_.erase(it);
        continue;
      }
      if (s.attempts > 0) env_.count(Counter::kRetries);
      send_history_request(it->first, s);
    }
    next = std::min(next, s.next_at_us);
    ++it;
  }
  next = std::min(next, blobs_.on_tick(now));
  anchor_audit(now);
  if (anchor_) {
    next = std::min(next, anchor_->next_at_us);
  } else if (audit_.head() &&
             (!audit_.last_anchored() || *audit_.last_anchored() < audit_.head()->first)) {
    next = std::min(next, std::max(now + 1, next_anchor_at_us_));
  }
  if (next != INT64_MAX) want_tick(next);
}

}  // namespace mhr
