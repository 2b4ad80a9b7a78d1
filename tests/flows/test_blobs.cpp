// Off-chain objects end to end in the simulator: an object uploaded at one
// record node reaches the other holder of its patient in the network, moves
// with the patient's history to another network, is checked chunk by chunk
// on every fetch (a corrupted chunk is refused and fetched again elsewhere),
// and reads back equal for the patient but not for a stranger.
#include <doctest/doctest.h>

#include "common/blob.hpp"
#include "common/key_wrap.hpp"
#include "flow_harness.hpp"
#include "tools/verify/verify.hpp"

using namespace mhr;

namespace {

const char* kScenario = R"(
duration: 16s
crypto: real
topology: {networks: 2, record_nodes: 2}
protocol: {max_blob_mb: 1}
workload:
  users: 1
  record_rate: 5
  start: 1s
  stop: 4s
  pinned:
    - {user: 0, nodes: [net0.r0, net0.r1], at: 0.1s}
  migrations:
    explicit:
      - {at: 6s, user: 0, to: net1.r0}
faults:
  crashes:
    - {node: net1.r0, at: 6.6s, restart: 7.4s}
)";

constexpr std::uint64_t kSeed = 11;

Bytes test_image(std::size_t size_bytes) {
  Bytes out(size_bytes);
  for (std::size_t i = 0; i < size_bytes; ++i) out[i] = static_cast<std::uint8_t>(i * 131 + 7);
  return out;
}

// The parts of a sealed object, as a client uploads them.
struct Upload {
  Bytes sealed;
  BlobManifest manifest;
  Hash id;
  OffChainRef ref() const { return {id, manifest.size_bytes}; }
};

Upload make_upload(const UserId& user, ByteView plaintext, const AeadKey& key) {
  Upload u;
  u.sealed = seal_payload(key, user, plaintext);
  u.manifest = manifest_of(u.sealed);
  u.id = blob_id(u.manifest);
  return u;
}

PutBlobRequest put(const UserId& user, const Upload& u, std::uint32_t part) {
  SharedBytes bytes = part == kManifestPart ? SharedBytes(encode(u.manifest))
                                            : SharedBytes(chunk_of(u.sealed, part));
  return PutBlobRequest{user, u.id, part, bytes, {}};
}

}  // namespace

TEST_CASE("off-chain objects: stored on every holder, moved by migration, checked per chunk") {
  test::ClientRun run(kScenario, kSeed);
  const auto patient = patient_signer(0, CryptoMode::kReal);
  const UserId user = user_id_of(patient->public_key());
  const AeadKey data_key = data_key_of(patient_seed("0"));
  const auto hospital = run.institution("net0.r0");
  const auto stranger = make_signer(CryptoMode::kReal, SecretSeed{sha256(as_bytes("stranger"))});

  const Bytes image = test_image(600 * 1024);  // three chunks once sealed
  const Upload upload = make_upload(user, image, data_key);
  REQUIRE(upload.manifest.chunks.size() == 3);

  // Uploads and refusals at net0.r0.
  std::vector<ClientReply> put_replies(upload.manifest.chunks.size() + 1);
  run.ask(2 * kUsPerSecond, "net0.r0", put(user, upload, kManifestPart), *hospital, put_replies[0]);
  for (std::uint32_t i = 0; i < upload.manifest.chunks.size(); ++i)
    run.ask(2 * kUsPerSecond + (i + 1) * 10'000, "net0.r0", put(user, upload, i), *hospital,
            put_replies[i + 1]);
  ClientReply early_record, record, too_big, bad_chunk, unsealed, by_stranger;
  const SubmitRecordRequest naming{
      user, "image/dicom", Category::kMedical, {}, upload.ref(), std::nullopt, {}};
  run.ask(1.9 * kUsPerSecond, "net0.r0", naming, *hospital, early_record);
  run.ask(2.5 * kUsPerSecond, "net0.r0", naming, *hospital, record);
  const BlobManifest huge{2u << 20, std::vector<Hash>(8)};
  run.ask(2.6 * kUsPerSecond, "net0.r0",
          PutBlobRequest{user, blob_id(huge), kManifestPart, SharedBytes(encode(huge)), {}},
          *hospital, too_big);
  PutBlobRequest wrong = put(user, upload, 1);
  wrong.bytes = SharedBytes(chunk_of(upload.sealed, 2));
  run.ask(2.7 * kUsPerSecond, "net0.r0", wrong, *hospital, bad_chunk);
  const Bytes plain = test_image(1000);
  const BlobManifest plain_m = manifest_of(plain);
  run.ask(2.8 * kUsPerSecond, "net0.r0",
          PutBlobRequest{user, blob_id(plain_m), kManifestPart, SharedBytes(encode(plain_m)), {}},
          *hospital, unsealed);
  run.ask(2.81 * kUsPerSecond, "net0.r0",
          PutBlobRequest{user, blob_id(plain_m), 0, SharedBytes(plain), {}}, *hospital, unsealed);
  run.ask(2.9 * kUsPerSecond, "net0.r0", put(user, upload, kManifestPart), *stranger, by_stranger);

  // Before the patient moves, chunk 1 goes bad on both holders in network 0;
  // the new holder must refuse it until one holder has it right again.
  const Bytes chunk_key = blob_chunk_key(upload.id, 1);
  const Bytes garbage(kBlobChunkBytes, 0x5a);
  run.world().at(5.5 * kUsPerSecond, [&] {
    for (const char* n : {"net0.r0", "net0.r1"}) {
      WriteBatch b;
      b.put(Table::kBlobs, chunk_key, garbage);
      run.world().store_of(run.node(n)).write(b);
    }
  });
  bool chunk1_at_new_holder_while_bad = true;
  run.world().at(9.9 * kUsPerSecond, [&] {
    chunk1_at_new_holder_while_bad =
        BlobStore(run.store("net1.r0")).chunk(upload.id, 1).has_value();
    WriteBatch b;
    b.put(Table::kBlobs, chunk_key, chunk_of(upload.sealed, 1));
    run.world().store_of(run.node("net0.r1")).write(b);
  });

  // Reads at the new holder.
  std::vector<ClientReply> reads(upload.manifest.chunks.size() + 1);
  run.ask(14 * kUsPerSecond, "net1.r0", ReadBlobRequest{user, upload.id, kManifestPart, {}},
          *patient, reads[0]);
  for (std::uint32_t i = 0; i < upload.manifest.chunks.size(); ++i)
    run.ask(14 * kUsPerSecond + (i + 1) * 10'000, "net1.r0",
            ReadBlobRequest{user, upload.id, i, {}}, *patient, reads[i + 1]);
  ClientReply stranger_read;
  run.ask(14.1 * kUsPerSecond, "net1.r0", ReadBlobRequest{user, upload.id, kManifestPart, {}},
          *stranger, stranger_read);

  const RunSummary summary = run.run();
  INFO("seed " << kSeed);
  CHECK(summary.violations == 0);

  for (const ClientReply& r : put_replies) CHECK_MESSAGE(r.status == ReplyStatus::kOk, r.detail);
  CHECK(early_record.status == ReplyStatus::kRejected);
  CHECK(early_record.detail.find("upload it first") != std::string::npos);
  CHECK_MESSAGE(record.status == ReplyStatus::kOk, record.detail);
  CHECK(too_big.status == ReplyStatus::kRejected);
  CHECK(too_big.detail.find("above the limit") != std::string::npos);
  CHECK(bad_chunk.status == ReplyStatus::kRejected);
  CHECK(unsealed.status == ReplyStatus::kRejected);
  CHECK(unsealed.detail.find("encrypted only") != std::string::npos);
  CHECK(by_stranger.status == ReplyStatus::kDenied);

  // Every holder of the patient has the whole object, checked; others none.
  for (const char* n : {"net0.r1", "net1.r0"}) {
    INFO(n);
    const BlobStore blobs(run.store(n));
    REQUIRE(blobs.complete(upload.id));
    for (std::uint32_t i = 0; i < upload.manifest.chunks.size(); ++i)
      CHECK(!chunk_error(upload.manifest, i, *blobs.chunk(upload.id, i)));
  }
  CHECK(!BlobStore(run.store("net1.r1")).manifest(upload.id));
  CHECK_FALSE(chunk1_at_new_holder_while_bad);
  CHECK(run.record_node("net1.r0").blobs().fetches_owed() == 0);

  // The patient reads it back whole at the new holder; a stranger cannot.
  REQUIRE_MESSAGE(reads[0].status == ReplyStatus::kOk, reads[0].detail);
  CHECK(decode<BlobManifest>(reads[0].blob_part.view()).value() == upload.manifest);
  Bytes sealed;
  for (std::size_t i = 1; i < reads.size(); ++i) {
    REQUIRE_MESSAGE(reads[i].status == ReplyStatus::kOk, reads[i].detail);
    const ByteView part = reads[i].blob_part.view();
    sealed.insert(sealed.end(), part.begin(), part.end());
  }
  CHECK(open_payload(data_key, user, sealed) == image);
  CHECK(stranger_read.status == ReplyStatus::kDenied);

  // mhr verify finds the chunk left bad on net0.r0; every other store verifies.
  for (const NodeInfo& n : run.topology().nodes()) {
    const VerifyReport report = verify_store(run.world().store_of(n.id), &run.topology(), 1);
    if (n.name == "net0.r0") {
      REQUIRE(report.problem);
      CHECK(report.problem->find("chunk does not match its hash") != std::string::npos);
    } else {
      CHECK_MESSAGE(!report.problem, n.name << ": " << report.problem.value_or(""));
    }
  }
}
