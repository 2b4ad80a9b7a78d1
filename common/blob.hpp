// Off-chain objects (images, PDFs): content-addressed and cut into chunks.
// A blob's id commits to its size and to every chunk's hash, so each chunk,
// from whichever holder it comes, is checked on its own before it is kept;
// the record that refers to the object carries the id and the size.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/codec.hpp"
#include "common/record.hpp"
#include "common/store.hpp"

namespace mhr {

inline constexpr std::size_t kBlobChunkBytes = 256 * 1024;
// The ceiling of the configurable maximum object size (ProtocolParams).
inline constexpr std::uint64_t kMaxBlobBytesCeiling = std::uint64_t{1} << 30;
inline constexpr std::size_t kMaxBlobChunks = kMaxBlobBytesCeiling / kBlobChunkBytes;
// The part number that names the manifest rather than a chunk.
inline constexpr std::uint32_t kManifestPart = UINT32_MAX;

struct BlobManifest {
  std::uint64_t size_bytes = 0;
  std::vector<Hash> chunks;  // SHA-256 of each chunk, in order
  bool operator==(const BlobManifest&) const = default;
};

template <>
struct Codec<BlobManifest> {
  static void write(Writer& w, const BlobManifest& v);
  static BlobManifest read(Reader& r);
};

// The object's id: SHA-256 over a domain tag and the manifest's encoding.
Hash blob_id(const BlobManifest& m);
// Cuts `content` into chunks and hashes them.
BlobManifest manifest_of(ByteView content);
// The bytes of chunk `part` of `content` (which manifest_of cut).
ByteView chunk_of(ByteView content, std::uint32_t part);
// Why `m` cannot be the object `ref` names (or one larger than
// max_size_bytes), or nullopt when it is.
std::optional<std::string> manifest_error(const BlobManifest& m, const OffChainRef& ref,
                                          std::uint64_t max_size_bytes);
// Why `chunk` is not part `part` of `m`, or nullopt when it is.
std::optional<std::string> chunk_error(const BlobManifest& m, std::uint32_t part, ByteView chunk);

// An object a holder must fetch: named by a record of `user` it stored.
struct BlobWant {
  UserId user;
  OffChainRef ref;
  bool operator==(const BlobWant&) const = default;
};

template <>
struct Codec<BlobWant> {
  static void write(Writer& w, const BlobWant& v);
  static BlobWant read(Reader& r);
};

// The kBlobs table: manifests by id, chunks by (id, part), and the objects a
// holder still has to fetch ("wants", by id, with the user whose record
// names them). Chunks are per object, so an object is deleted as a whole.
class BlobStore {
 public:
  explicit BlobStore(const Store& store) : store_(store) {}

  std::optional<BlobManifest> manifest(const Hash& id) const;
  std::optional<Bytes> chunk(const Hash& id, std::uint32_t part) const;
  // Parts of `m` not stored yet, in order.
  std::vector<std::uint32_t> missing_parts(const Hash& id, const BlobManifest& m) const;
  bool complete(const Hash& id) const;

  void put_manifest(WriteBatch& batch, const Hash& id, const BlobManifest& m) const;
  void put_chunk(WriteBatch& batch, const Hash& id, std::uint32_t part, ByteView chunk) const;

  void put_want(WriteBatch& batch, const BlobWant& w) const;
  void del_want(WriteBatch& batch, const Hash& id) const;
  std::vector<BlobWant> wants() const;

 private:
  const Store& store_;
};

// kBlobs keys (also read by the offline verifier).
inline constexpr std::uint8_t kBlobManifestTag = 'm';
inline constexpr std::uint8_t kBlobChunkTag = 'c';
inline constexpr std::uint8_t kBlobWantTag = 'w';
Bytes blob_chunk_key(const Hash& id, std::uint32_t part);

}  // namespace mhr
