#include "common/blob.hpp"

#include "common/assert.hpp"
#include "common/chain_store.hpp"
#include "common/crypto.hpp"

namespace mhr {

namespace {

constexpr std::string_view kBlobIdDomain = "mhr-blob-v1";

std::size_t chunk_count(std::uint64_t size_bytes) {
  return static_cast<std::size_t>((size_bytes + kBlobChunkBytes - 1) / kBlobChunkBytes);
}

std::size_t chunk_length(std::uint64_t size_bytes, std::uint32_t part) {
  const std::uint64_t begin = std::uint64_t{part} * kBlobChunkBytes;
  MHR_ASSERT(begin < size_bytes);
  return static_cast<std::size_t>(std::min<std::uint64_t>(kBlobChunkBytes, size_bytes - begin));
}

template <class T>
std::optional<T> decode_stored(const std::optional<Bytes>& v) {
  if (!v) return std::nullopt;
  auto d = decode<T>(*v);
  MHR_ASSERT_MSG(d.ok(), "stored blob entry does not decode");
  return std::move(d).value();
}

}  // namespace

void Codec<BlobManifest>::write(Writer& w, const BlobManifest& v) {
  MHR_ASSERT(v.chunks.size() == chunk_count(v.size_bytes) && v.chunks.size() <= kMaxBlobChunks);
  w.varint(v.size_bytes);
  for (const Hash& h : v.chunks) w.fixed(h);
}

BlobManifest Codec<BlobManifest>::read(Reader& r) {
  BlobManifest v;
  v.size_bytes = r.varint_max(kMaxBlobBytesCeiling);
  const std::size_t n = chunk_count(v.size_bytes);
  if (!r.ok() || r.remaining() < n * Hash::kSize) {
    r.fail(DecodeError::kTruncated);
    return v;
  }
  v.chunks.reserve(n);
  for (std::size_t i = 0; i < n; ++i) v.chunks.push_back(r.fixed_as<Hash>());
  return v;
}

void Codec<BlobWant>::write(Writer& w, const BlobWant& v) {
  w.fixed(v.user);
  Codec<OffChainRef>::write(w, v.ref);
}

BlobWant Codec<BlobWant>::read(Reader& r) {
  BlobWant v;
  v.user = r.fixed_as<UserId>();
  v.ref = Codec<OffChainRef>::read(r);
  return v;
}

Hash blob_id(const BlobManifest& m) {
  return sha256(as_bytes(kBlobIdDomain), encode(m));
}

BlobManifest manifest_of(ByteView content) {
  MHR_ASSERT(content.size() <= kMaxBlobBytesCeiling);
  BlobManifest m{content.size(), {}};
  m.chunks.reserve(chunk_count(content.size()));
  for (std::uint32_t part = 0; part < chunk_count(content.size()); ++part)
    m.chunks.push_back(sha256(chunk_of(content, part)));
  return m;
}

ByteView chunk_of(ByteView content, std::uint32_t part) {
  return content.subspan(std::size_t{part} * kBlobChunkBytes, chunk_length(content.size(), part));
}

std::optional<std::string> manifest_error(const BlobManifest& m, const OffChainRef& ref,
                                          std::uint64_t max_size_bytes) {
  if (m.size_bytes == 0) return "an empty object";
  if (m.size_bytes > max_size_bytes)
    return "object of " + std::to_string(m.size_bytes) + " bytes is above the limit of " +
           std::to_string(max_size_bytes);
  if (m.size_bytes != ref.size_bytes) return "object size differs from the record's";
  if (blob_id(m) != ref.hash) return "manifest does not hash to the object id";
  return std::nullopt;
}

std::optional<std::string> chunk_error(const BlobManifest& m, std::uint32_t part, ByteView chunk) {
  if (part >= m.chunks.size()) return "no such part";
  if (chunk.size() != chunk_length(m.size_bytes, part)) return "chunk has the wrong length";
  if (sha256(chunk) != m.chunks[part]) return "chunk does not match its hash";
  return std::nullopt;
}

// ---- BlobStore ----------------------------------------------------------------

Bytes blob_chunk_key(const Hash& id, std::uint32_t part) {
  Bytes key = tagged_key(kBlobChunkTag, id.view());
  append_be32(key, part);
  return key;
}

std::optional<BlobManifest> BlobStore::manifest(const Hash& id) const {
  return decode_stored<BlobManifest>(
      store_.get(Table::kBlobs, tagged_key(kBlobManifestTag, id.view())));
}

std::optional<Bytes> BlobStore::chunk(const Hash& id, std::uint32_t part) const {
  return store_.get(Table::kBlobs, blob_chunk_key(id, part));
}

std::vector<std::uint32_t> BlobStore::missing_parts(const Hash& id, const BlobManifest& m) const {
  std::vector<bool> held(m.chunks.size());
  store_.scan_prefix(Table::kBlobs, tagged_key(kBlobChunkTag, id.view()),
                     [&](ByteView k, ByteView) {
                       const std::uint32_t part = read_be32(k.subspan(1 + Hash::kSize));
                       if (part < held.size()) held[part] = true;
                       return true;
                     });
  std::vector<std::uint32_t> missing;
  for (std::uint32_t i = 0; i < held.size(); ++i)
    if (!held[i]) missing.push_back(i);
  return missing;
}

bool BlobStore::complete(const Hash& id) const {
  auto m = manifest(id);
  return m && missing_parts(id, *m).empty();
}

void BlobStore::put_manifest(WriteBatch& batch, const Hash& id, const BlobManifest& m) const {
  MHR_ASSERT(blob_id(m) == id);
  batch.put(Table::kBlobs, tagged_key(kBlobManifestTag, id.view()), encode(m));
}

void BlobStore::put_chunk(WriteBatch& batch, const Hash& id, std::uint32_t part,
                          ByteView chunk) const {
  batch.put(Table::kBlobs, blob_chunk_key(id, part), chunk);
}

void BlobStore::put_want(WriteBatch& batch, const BlobWant& w) const {
  batch.put(Table::kBlobs, tagged_key(kBlobWantTag, w.ref.hash.view()), encode(w));
}

void BlobStore::del_want(WriteBatch& batch, const Hash& id) const {
  batch.del(Table::kBlobs, tagged_key(kBlobWantTag, id.view()));
}

std::vector<BlobWant> BlobStore::wants() const {
  std::vector<BlobWant> out;
  store_.scan_prefix(Table::kBlobs, Bytes{kBlobWantTag}, [&](ByteView, ByteView v) {
    out.push_back(*decode_stored<BlobWant>(Bytes(v.begin(), v.end())));
    return true;
  });
  return out;
}

}  // namespace mhr
