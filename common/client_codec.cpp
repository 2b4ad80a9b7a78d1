#include "common/client_codec.hpp"

#include <iterator>
#include <type_traits>
#include <variant>

#include "common/assert.hpp"

// A request frame is the client's id, one tag byte (the ClientRequest
// variant index) and the request; a reply frame is the id, the status byte,
// the detail, the optional entry hash and the records. Canonical like every
// other encoding: optionals as 0/1, known tags and statuses only.

namespace mhr {

namespace {

constexpr std::uint8_t kReplyStatusCount = 3;

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

void write_request(Writer& w, const RegisterUserRequest& v) {
  w.fixed(v.user);
}
void write_request(Writer& w, const ReadUserRequest& v) {
  w.fixed(v.user);
}
void write_request(Writer& w, const SubmitRecordRequest& v) {
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

ClientRequest read_register(Reader& r) {
  return RegisterUserRequest{r.fixed_as<UserId>()};
}
ClientRequest read_read_user(Reader& r) {
  return ReadUserRequest{r.fixed_as<UserId>()};
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
  v.payload = SharedBytes(r.bytes(kMaxInlinePayloadBytes));
  if (r.boolean()) v.off_chain = Codec<OffChainRef>::read(r);
  if (r.boolean()) v.supersedes = r.fixed_as<Hash>();
  return v;
}

// By variant index of ClientRequest.
using RequestReader = ClientRequest (*)(Reader&);
constexpr RequestReader kRequestReaders[] = {read_register, read_submit, read_read_user};
static_assert(std::size(kRequestReaders) == std::variant_size_v<ClientRequest>);
static_assert(std::is_same_v<std::variant_alternative_t<0, ClientRequest>, RegisterUserRequest>);
static_assert(std::is_same_v<std::variant_alternative_t<1, ClientRequest>, SubmitRecordRequest>);
static_assert(std::is_same_v<std::variant_alternative_t<2, ClientRequest>, ReadUserRequest>);

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
  return v;
}

}  // namespace mhr
