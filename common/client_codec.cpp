#include "common/client_codec.hpp"

#include <iterator>
#include <type_traits>
#include <variant>

#include "common/assert.hpp"
#include "common/hash_writer.hpp"

// A request frame is the client's id, one tag byte (the ClientRequest
// variant index) and the request; a reply frame is the id, the status byte,
// the detail, the optional entry hash and the records. Canonical like every
// other encoding: optionals as 0/1, known tags and statuses only.

namespace mhr {

namespace {

constexpr std::uint8_t kReplyStatusCount = 4;

// The smallest encoding of a record: what Reader::count needs to reject
// record counts the input cannot hold.
std::size_t min_record_size() {
  static const std::size_t size = [] {
    Writer w = Writer::counting();
    Codec<Record>::write(w, Record{});
    return w.size();
  }();
  return size;
}

// Each request is written as its body, then its credential (if it has one):
// the body alone is what the credential signs.
void write_body(Writer& w, const RegisterUserRequest& v) {
  w.fixed(v.user);
}
void write_body(Writer& w, const ReadUserRequest& v) {
  w.fixed(v.user);
}
void write_body(Writer& w, const AuditRequest& v) {
  w.fixed(v.user);
}
void write_body(Writer& w, const PatientActRequest& v) {
  Codec<PatientStatement>::write(w, v.statement);
}
void write_body(Writer& w, const SubmitRecordRequest& v) {
  w.fixed(v.user);
  MHR_ASSERT(v.content_type.size() <= kMaxContentTypeBytes);
  w.str(v.content_type);
  MHR_ASSERT(static_cast<std::uint8_t>(v.category) < kCategoryCount);
  w.u8(static_cast<std::uint8_t>(v.category));
  MHR_ASSERT(v.payload.size() <= kMaxInlinePayloadBytes);
  w.bytes(v.payload.view());
  w.boolean(v.off_chain.has_value());
  if (v.off_chain) Codec<OffChainRef>::write(w, *v.off_chain);
  w.boolean(v.supersedes.has_value());
  if (v.supersedes) w.fixed(*v.supersedes);
}

void write_body(Writer& w, const PutBlobRequest& v) {
  w.fixed(v.user);
  w.fixed(v.blob);
  w.varint(v.part);
  MHR_ASSERT(v.bytes.size() <= kBlobChunkBytes);
  w.bytes(v.bytes.view());
}
void write_body(Writer& w, const ReadBlobRequest& v) {
  w.fixed(v.user);
  w.fixed(v.blob);
  w.varint(v.part);
}

template <class R>
void write_request(Writer& w, const R& v) {
  write_body(w, v);
  if constexpr (!std::is_same_v<R, PatientActRequest>) Codec<Credential>::write(w, v.by);
}

ClientRequest read_register(Reader& r) {
  RegisterUserRequest v{r.fixed_as<UserId>(), {}};
  v.by = Codec<Credential>::read(r);
  return v;
}
ClientRequest read_read_user(Reader& r) {
  ReadUserRequest v{r.fixed_as<UserId>(), {}};
  v.by = Codec<Credential>::read(r);
  return v;
}
ClientRequest read_audit(Reader& r) {
  AuditRequest v{r.fixed_as<UserId>(), {}};
  v.by = Codec<Credential>::read(r);
  return v;
}
ClientRequest read_patient_act(Reader& r) {
  return PatientActRequest{Codec<PatientStatement>::read(r)};
}
ClientRequest read_submit(Reader& r) {
  SubmitRecordRequest v;
  v.user = r.fixed_as<UserId>();
  v.content_type = r.str(kMaxContentTypeBytes);
  std::uint8_t category = r.u8();
  if (r.ok() && category >= kCategoryCount) {
    r.fail(DecodeError::kUnknownType);
    return v;
  }
  v.category = static_cast<Category>(category);
  v.payload = r.shared_bytes(kMaxInlinePayloadBytes);
  if (r.boolean()) v.off_chain = Codec<OffChainRef>::read(r);
  if (r.boolean()) v.supersedes = r.fixed_as<Hash>();
  v.by = Codec<Credential>::read(r);
  return v;
}

ClientRequest read_put_blob(Reader& r) {
  PutBlobRequest v{r.fixed_as<UserId>(), r.fixed_as<Hash>(), r.u32(), {}, {}};
  v.bytes = r.shared_bytes(kBlobChunkBytes);
  v.by = Codec<Credential>::read(r);
  return v;
}
ClientRequest read_read_blob(Reader& r) {
  ReadBlobRequest v{r.fixed_as<UserId>(), r.fixed_as<Hash>(), r.u32(), {}};
  v.by = Codec<Credential>::read(r);
  return v;
}

// By variant index of ClientRequest.
using RequestReader = ClientRequest (*)(Reader&);
constexpr RequestReader kRequestReaders[] = {read_register,    read_submit, read_read_user,
                                             read_patient_act, read_audit,  read_put_blob,
                                             read_read_blob};
static_assert(std::size(kRequestReaders) == std::variant_size_v<ClientRequest>);
static_assert(std::is_same_v<std::variant_alternative_t<0, ClientRequest>, RegisterUserRequest>);
static_assert(std::is_same_v<std::variant_alternative_t<1, ClientRequest>, SubmitRecordRequest>);
static_assert(std::is_same_v<std::variant_alternative_t<2, ClientRequest>, ReadUserRequest>);
static_assert(std::is_same_v<std::variant_alternative_t<3, ClientRequest>, PatientActRequest>);
static_assert(std::is_same_v<std::variant_alternative_t<4, ClientRequest>, AuditRequest>);
static_assert(std::is_same_v<std::variant_alternative_t<5, ClientRequest>, PutBlobRequest>);
static_assert(std::is_same_v<std::variant_alternative_t<6, ClientRequest>, ReadBlobRequest>);

std::size_t min_audit_entry_size() {
  static const std::size_t size = [] {
    Writer w = Writer::counting();
    Codec<AuditEntry>::write(w, AuditEntry{});
    return w.size();
  }();
  return size;
}

}  // namespace

void Codec<ClientRequestFrame>::write(Writer& w, const ClientRequestFrame& v) {
  MHR_ASSERT(!v.request.valueless_by_exception());
  w.varint(v.id);
  w.u8(static_cast<std::uint8_t>(v.request.index()));
  std::visit([&w](const auto& req) { write_request(w, req); }, v.request);
}

ClientRequestFrame Codec<ClientRequestFrame>::read(Reader& r) {
  ClientRequestFrame v;
  v.id = r.varint();
  std::uint8_t tag = r.u8();
  if (!r.ok()) return v;
  if (tag >= std::size(kRequestReaders)) {
    r.fail(DecodeError::kUnknownType);
    return v;
  }
  v.request = kRequestReaders[tag](r);
  return v;
}

void Codec<ClientReplyFrame>::write(Writer& w, const ClientReplyFrame& v) {
  const ClientReply& reply = v.reply;
  w.varint(v.id);
  MHR_ASSERT(static_cast<std::uint8_t>(reply.status) < kReplyStatusCount);
  w.u8(static_cast<std::uint8_t>(reply.status));
  MHR_ASSERT(reply.detail.size() <= kMaxDetailBytes);
  w.str(reply.detail);
  w.boolean(reply.entry_hash.has_value());
  if (reply.entry_hash) w.fixed(*reply.entry_hash);
  MHR_ASSERT(reply.records.size() <= kMaxReplyRecords);
  w.varint(reply.records.size());
  for (const Record& rec : reply.records) Codec<Record>::write(w, rec);
  MHR_ASSERT(reply.keys.size() <= kMaxKeyShares);
  w.varint(reply.keys.size());
  for (const WrappedKey& k : reply.keys) Codec<WrappedKey>::write(w, k);
  MHR_ASSERT(reply.audit.size() <= kMaxReplyAuditEntries);
  w.varint(reply.audit.size());
  for (const AuditEntry& e : reply.audit) Codec<AuditEntry>::write(w, e);
  MHR_ASSERT(reply.proofs.size() <= kMaxReplyRecords && reply.headers.size() <= kMaxReplyRecords);
  w.varint(reply.proofs.size());
  for (const RecordPlace& p : reply.proofs) Codec<RecordPlace>::write(w, p);
  w.varint(reply.headers.size());
  for (const SignedHeader& h : reply.headers) Codec<SignedHeader>::write(w, h);
  MHR_ASSERT(reply.blob_part.size() <= kBlobChunkBytes);
  w.bytes(reply.blob_part.view());
}

ClientReplyFrame Codec<ClientReplyFrame>::read(Reader& r) {
  ClientReplyFrame v;
  ClientReply& reply = v.reply;
  v.id = r.varint();
  std::uint8_t status = r.u8();
  if (!r.ok()) return v;
  if (status >= kReplyStatusCount) {
    r.fail(DecodeError::kUnknownType);
    return v;
  }
  reply.status = static_cast<ReplyStatus>(status);
  reply.detail = r.str(kMaxDetailBytes);
  if (r.boolean()) reply.entry_hash = r.fixed_as<Hash>();
  std::size_t n = r.count(kMaxReplyRecords, min_record_size());
  reply.records.reserve(n);
  for (std::size_t i = 0; i < n && r.ok(); ++i) reply.records.push_back(Codec<Record>::read(r));
  std::size_t keys = r.count(kMaxKeyShares, 33);
  for (std::size_t i = 0; i < keys && r.ok(); ++i) reply.keys.push_back(Codec<WrappedKey>::read(r));
  std::size_t audit = r.count(kMaxReplyAuditEntries, min_audit_entry_size());
  reply.audit.reserve(audit);
  for (std::size_t i = 0; i < audit && r.ok(); ++i)
    reply.audit.push_back(Codec<AuditEntry>::read(r));
  std::size_t proofs = r.count(kMaxReplyRecords, 4);
  for (std::size_t i = 0; i < proofs && r.ok(); ++i)
    reply.proofs.push_back(Codec<RecordPlace>::read(r));
  std::size_t headers = r.count(kMaxReplyRecords, 64);
  for (std::size_t i = 0; i < headers && r.ok(); ++i)
    reply.headers.push_back(Codec<SignedHeader>::read(r));
  reply.blob_part = r.shared_bytes(kBlobChunkBytes);
  return v;
}

Hash request_digest(const ClientRequest& request) {
  MHR_ASSERT(!request.valueless_by_exception());
  return sha256_of_writing([&request](Writer& w) {
    w.u8(static_cast<std::uint8_t>(request.index()));
    std::visit([&w](const auto& req) { write_body(w, req); }, request);
  });
}

const UserId& request_user(const ClientRequest& request) {
  return std::visit(
      [](const auto& req) -> const UserId& {
        if constexpr (std::is_same_v<std::decay_t<decltype(req)>, PatientActRequest>) {
          return req.statement.user;
        } else {
          return req.user;
        }
      },
      request);
}

const Credential* credential_of(const ClientRequest& request) {
  return std::visit(
      [](const auto& req) -> const Credential* {
        if constexpr (std::is_same_v<std::decay_t<decltype(req)>, PatientActRequest>) {
          return nullptr;
        } else {
          return &req.by;
        }
      },
      request);
}

void sign_request(ClientRequest& request, const Signer& requester, NodeId node, TimeUs now_us,
                  std::uint64_t nonce) {
  const Hash body = request_digest(request);
  std::visit(
      [&](auto& req) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(req)>, PatientActRequest>)
          req.by = make_credential(requester, node, now_us, nonce, body);
      },
      request);
}

}  // namespace mhr
