#include "common/record.hpp"

#include <array>
#include <memory>

#include "common/hash_writer.hpp"

namespace mhr {

namespace {
constexpr std::string_view kRecordSigningDomain = "mhr-record-v1";
constexpr std::array<std::string_view, kCategoryCount> kCategoryNames = {
    "medical", "billing", "insurance", "administrative"};

enum BodyKind : std::uint8_t { kInline = 0, kOffChain = 1, kErased = 2 };

// How the body is written: in full (storage, wire) or by its digest (what
// is signed and hashed, the same before and after an erasure).
enum class BodyForm : std::uint8_t { kFull, kDigest };

// Every field but the signature, in encoding order.
void write_unsigned_part(Writer& w, const Record& v, BodyForm form) {
  w.fixed(v.user);
  w.varint(v.network.value);
  w.varint(v.author_node.value);
  w.fixed(v.author_key);
  w.varint(v.sequence);
  w.fixed(v.prev_hash);
  MHR_ASSERT(v.created_at_us >= 0);
  w.varint(static_cast<std::uint64_t>(v.created_at_us));
  MHR_ASSERT(v.content_type.size() <= kMaxContentTypeBytes);
  w.str(v.content_type);
  w.u8(static_cast<std::uint8_t>(v.category));
  if (v.off_chain) {
    MHR_ASSERT(v.payload.empty() && !v.erased_payload);
    w.u8(kOffChain);
    Codec<OffChainRef>::write(w, *v.off_chain);
  } else if (form == BodyForm::kDigest) {
    w.u8(kInline);
    w.fixed(payload_digest(v));
  } else if (v.erased_payload) {
    MHR_ASSERT(v.payload.empty());
    w.u8(kErased);
    w.fixed(*v.erased_payload);
  } else {
    MHR_ASSERT(v.payload.size() <= kMaxInlinePayloadBytes);
    w.u8(kInline);
    w.bytes(v.payload.view());
  }
  w.boolean(v.supersedes.has_value());
  if (v.supersedes) w.fixed(*v.supersedes);
}
}  // namespace

std::string_view category_name(Category c) {
  auto i = static_cast<std::size_t>(c);
  MHR_ASSERT(i < kCategoryNames.size());
  return kCategoryNames[i];
}

std::optional<Category> parse_category(std::string_view name) {
  for (std::size_t i = 0; i < kCategoryNames.size(); ++i)
    if (kCategoryNames[i] == name) return static_cast<Category>(i);
  return std::nullopt;
}

void Codec<OffChainRef>::write(Writer& w, const OffChainRef& v) {
  w.fixed(v.hash);
  w.varint(v.size_bytes);
}

OffChainRef Codec<OffChainRef>::read(Reader& r) {
  OffChainRef v;
  v.hash = r.fixed_as<Hash>();
  v.size_bytes = r.varint();
  return v;
}

void Codec<Record>::write(Writer& w, const Record& v) {
  write_unsigned_part(w, v, BodyForm::kFull);
  w.fixed(v.signature);
}

Record Codec<Record>::read(Reader& r) {
  Record v;
  v.user = r.fixed_as<UserId>();
  v.network = NetworkId{r.u32()};
  v.author_node = NodeId{r.u32()};
  v.author_key = r.fixed_as<PublicKey>();
  v.sequence = r.varint();
  v.prev_hash = r.fixed_as<Hash>();
  v.created_at_us = r.time_us();
  v.content_type = r.str(kMaxContentTypeBytes);
  std::uint8_t category = r.u8();
  if (category >= kCategoryCount) r.fail(DecodeError::kUnknownType);
  v.category = static_cast<Category>(category);
  std::uint8_t body = r.u8();
  if (body == kInline) {
    v.payload = r.shared_bytes(kMaxInlinePayloadBytes);
  } else if (body == kOffChain) {
    v.off_chain = Codec<OffChainRef>::read(r);
  } else if (body == kErased) {
    v.erased_payload = r.fixed_as<Hash>();
  } else {
    r.fail(DecodeError::kUnknownType);
  }
  if (r.boolean()) v.supersedes = r.fixed_as<Hash>();
  v.signature = r.fixed_as<Signature>();
  return v;
}

namespace {

void write_signing(Writer& w, const Record& r) {
  w.str(kRecordSigningDomain);
  write_unsigned_part(w, r, BodyForm::kDigest);
}

// In a buffer of the thread's, kept from call to call: signing or checking
// a record allocates nothing for its signed bytes.
ByteView record_signing_view(const Record& r) {
  thread_local Bytes scratch;
  return write_into(scratch, [&r](Writer& w) { write_signing(w, r); });
}

}  // namespace

Bytes record_signing_bytes(const Record& r) {
  return write_exact([&r](Writer& w) { write_signing(w, r); });
}

Hash record_hash(const Record& r) {
  return sha256_of_writing([&r](Writer& w) {
    write_unsigned_part(w, r, BodyForm::kDigest);
    w.fixed(r.signature);
  });
}

namespace {

// A record's payload digest is taken by everyone who checks or hashes the
// record: its origin twice, the consensus node three times, each holder
// twice. In one process these are mostly the same buffer (the simulator
// hands one payload to every node; a node keeps the record it decoded), so
// the digest is remembered by the buffer's address. An entry watches the
// buffer's owner: while the owner lives its memory holds these bytes and no
// others, and once it is gone the entry misses. Only small payloads are
// remembered, as a watch keeps a buffer allocated with its count alive.
class PayloadDigestMemo {
 public:
  static constexpr std::size_t kMaxBytes = 16 * 1024;

  Hash get(const SharedBytes& payload) {
    const ByteView v = payload.view();
    if (v.empty() || v.size() > kMaxBytes || !payload.owner()) return sha256(v);
    const auto address = reinterpret_cast<std::uintptr_t>(v.data());
    Slot& s = slots_[((address >> 4) ^ (address >> 16)) % kSlots];
    if (s.data == v.data() && s.size == v.size() && !s.owner.expired()) return s.digest;
    s = Slot{v.data(), v.size(), payload.owner(), sha256(v)};
    return s.digest;
  }

 private:
  // A block's thousand records, each seen by several nodes before the next
  // block: 1 MB of slots per thread, and at most kSlots small buffers kept.
  static constexpr std::size_t kSlots = 16384;
  struct Slot {
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;
    std::weak_ptr<const void> owner;
    Hash digest;
  };
  std::array<Slot, kSlots> slots_{};
};

}  // namespace

Hash payload_digest(const Record& r) {
  if (r.erased_payload) return *r.erased_payload;
  thread_local auto memo = std::make_unique<PayloadDigestMemo>();
  return memo->get(r.payload);
}

Record with_payload_erased(const Record& r) {
  MHR_ASSERT(!r.off_chain);
  Record out = r;
  out.erased_payload = payload_digest(r);
  out.payload = {};
  return out;
}

Record detached(const Record& r) {
  Record out = r;
  out.payload = r.payload.detached();
  return out;
}

void sign_record(Record& r, const Signer& author) {
  MHR_ASSERT(r.author_key == author.public_key());
  r.signature = author.sign(record_signing_view(r));
}

bool verify_record_signature(const Record& r, const Verifier& verifier) {
  return verifier.verify(r.author_key, record_signing_view(r), r.signature);
}

std::optional<std::string> chain_continuity_error(const Record& r,
                                                  const std::optional<ChainTip>& tip) {
  if (!tip) {
    if (r.sequence != 0) return "first record of the user must have sequence 0";
    if (!r.prev_hash.is_zero()) return "first record of the user must have a zero previous hash";
    return std::nullopt;
  }
  if (r.sequence != tip->sequence + 1)
    return "sequence " + std::to_string(r.sequence) + " does not follow " +
           std::to_string(tip->sequence);
  if (r.prev_hash != tip->hash) return "previous hash does not match the user's latest record";
  return std::nullopt;
}

}  // namespace mhr
