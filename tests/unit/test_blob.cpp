// Off-chain objects: chunking, the id's commitment to size and chunks, the
// checks each fetched part goes through, and the store's bookkeeping.
#include <doctest/doctest.h>

#include "common/blob.hpp"
#include "common/crypto.hpp"

using namespace mhr;

namespace {

Bytes content_of(std::size_t size_bytes, std::uint8_t salt) {
  Bytes b(size_bytes);
  for (std::size_t i = 0; i < size_bytes; ++i) b[i] = static_cast<std::uint8_t>(i * 31 + salt);
  return b;
}

}  // namespace

TEST_CASE("blob: chunks cover the content exactly and the id commits to them") {
  for (std::size_t size : {std::size_t{1}, kBlobChunkBytes - 1, kBlobChunkBytes,
                           kBlobChunkBytes + 1, 3 * kBlobChunkBytes + 17}) {
    INFO("size " << size);
    const Bytes c = content_of(size, 1);
    const BlobManifest m = manifest_of(c);
    CHECK(m.size_bytes == size);
    CHECK(m.chunks.size() == (size + kBlobChunkBytes - 1) / kBlobChunkBytes);
    Bytes joined;
    for (std::uint32_t i = 0; i < m.chunks.size(); ++i) {
      const ByteView part = chunk_of(c, i);
      CHECK(!chunk_error(m, i, part));
      joined.insert(joined.end(), part.begin(), part.end());
    }
    CHECK(joined == c);
    const OffChainRef ref{blob_id(m), size};
    CHECK(!manifest_error(m, ref, kMaxBlobBytesCeiling));
    CHECK(decode<BlobManifest>(encode(m)).value() == m);
  }
  // One changed byte anywhere changes the id.
  Bytes c = content_of(2 * kBlobChunkBytes, 2);
  const Hash id = blob_id(manifest_of(c));
  c[kBlobChunkBytes + 5] ^= 1;
  CHECK(blob_id(manifest_of(c)) != id);
}

TEST_CASE("blob: a manifest or chunk that is not the named object is refused") {
  const Bytes c = content_of(kBlobChunkBytes + 100, 3);
  const BlobManifest m = manifest_of(c);
  const OffChainRef ref{blob_id(m), m.size_bytes};
  CHECK(manifest_error(m, {ref.hash, ref.size_bytes + 1}, kMaxBlobBytesCeiling));
  CHECK(manifest_error(m, {sha256(as_bytes("other")), ref.size_bytes}, kMaxBlobBytesCeiling));
  CHECK(manifest_error(m, ref, m.size_bytes - 1)->find("above the limit") != std::string::npos);
  CHECK(manifest_error(BlobManifest{}, {blob_id(BlobManifest{}), 0}, kMaxBlobBytesCeiling));
  CHECK(chunk_error(m, 0, chunk_of(c, 1)));  // wrong part
  CHECK(chunk_error(m, 2, chunk_of(c, 1)));  // no such part
  Bytes flipped(chunk_of(c, 1).begin(), chunk_of(c, 1).end());
  flipped[0] ^= 0x80;
  CHECK(chunk_error(m, 1, flipped)->find("hash") != std::string::npos);
  Bytes longer(chunk_of(c, 1).begin(), chunk_of(c, 1).end());
  longer.push_back(0);
  CHECK(chunk_error(m, 1, longer)->find("length") != std::string::npos);
}

TEST_CASE("blob: manifest decoding is bounded and exact") {
  Writer w;
  w.u8(kCodecVersion);
  w.varint(kMaxBlobBytesCeiling + 1);
  CHECK(decode<BlobManifest>(w.data()).error() == DecodeError::kOversize);
  Writer few;
  few.u8(kCodecVersion);
  few.varint(3 * kBlobChunkBytes);  // three chunk hashes announced, one given
  few.fixed(sha256(as_bytes("a")));
  CHECK(!decode<BlobManifest>(few.data()).ok());
  Bytes extra = encode(manifest_of(content_of(10, 4)));
  extra.push_back(0);
  CHECK(decode<BlobManifest>(extra).error() == DecodeError::kTrailingBytes);
}

TEST_CASE("blob store: parts missing, completeness and owed objects") {
  auto store = open_memory_store();
  const BlobStore blobs(*store);
  const Bytes c = content_of(2 * kBlobChunkBytes + 1, 5);
  const BlobManifest m = manifest_of(c);
  const Hash id = blob_id(m);
  CHECK(!blobs.complete(id));
  WriteBatch b;
  blobs.put_manifest(b, id, m);
  blobs.put_chunk(b, id, 1, chunk_of(c, 1));
  const UserId user{sha256(as_bytes("u"))};
  blobs.put_want(b, {user, {id, m.size_bytes}});
  store->write(b);
  CHECK(blobs.missing_parts(id, m) == std::vector<std::uint32_t>{0, 2});
  CHECK(!blobs.complete(id));
  WriteBatch rest;
  blobs.put_chunk(rest, id, 0, chunk_of(c, 0));
  blobs.put_chunk(rest, id, 2, chunk_of(c, 2));
  blobs.del_want(rest, id);
  CHECK(blobs.wants() == std::vector<BlobWant>{{user, {id, m.size_bytes}}});
  store->write(rest);
  CHECK(blobs.complete(id));
  CHECK(blobs.wants().empty());
  CHECK(Bytes(*blobs.chunk(id, 2)) == Bytes(chunk_of(c, 2).begin(), chunk_of(c, 2).end()));
}
