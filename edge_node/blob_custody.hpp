// BlobCustody: a record node's off-chain objects. It takes uploads from
// clients, serves parts to nodes that ask, and fetches every object named by
// a record the node stored (from a local holder or, through the index
// network, a remote one), part by part, checking each, until the object is
// whole. What it still has to fetch survives restarts.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/blob.hpp"
#include "common/client_api.hpp"
#include "common/env.hpp"
#include "common/group_contact.hpp"
#include "common/topology.hpp"

namespace mhr {

// Objects fetched at the same time; the others wait their turn.
inline constexpr std::size_t kMaxActiveBlobFetches = 8;
// Owed objects kept in memory; more stay in the store and are loaded once
// these are fetched.
inline constexpr std::size_t kMaxBlobWants = 100'000;

class BlobCustody {
 public:
  BlobCustody(Env& env, const ProtocolParams& params, const GroupContact& consensus);

  // Rebuilds the fetches still owed from the store.
  void load();

  // A client upload (the node has checked the requester's standing): the
  // refusal, or nullopt when stored.
  std::optional<std::string> upload(const PutBlobRequest& req);
  // Whether the whole object `ref` names is here.
  bool holds(const OffChainRef& ref) const;
  std::optional<BlobManifest> manifest(const Hash& id) const { return blobs_.manifest(id); }
  std::optional<Bytes> chunk(const Hash& id, std::uint32_t part) const {
    return blobs_.chunk(id, part);
  }

  // A record of `user` naming `ref` goes into `batch`: the object is owed
  // from then on, atomically with the record. start_staged() after the write:
  // true when a fetch begins, which the next tick sends.
  void want_in(WriteBatch& batch, const UserId& user, const OffChainRef& ref);
  bool start_staged();

  void on_request(const BlobRequest& req);
  void on_part(const BlobPart& part);
  // Sends what is due; the next time it needs a tick (INT64_MAX: none).
  TimeUs on_tick(TimeUs now);

  std::size_t fetches_owed() const { return fetches_.size(); }

 private:
  struct Fetch {
    BlobWant want;
    std::optional<BlobManifest> manifest;
    std::deque<std::uint32_t> missing;  // parts still to fetch once the manifest is here
    std::uint64_t request_id = 0;
    std::uint32_t attempts = 0;
    TimeUs next_at_us = 0;
  };

  void send_request(Fetch& f);
  bool take_manifest(Fetch& f, ByteView bytes);
  bool take_chunk(Fetch& f, std::uint32_t part, ByteView bytes);
  void finish(const Hash& id);

  Env& env_;
  const ProtocolParams& params_;
  const GroupContact& consensus_;
  BlobStore blobs_;
  std::map<Hash, Fetch> fetches_;
  std::vector<BlobWant> staged_;  // wants in a batch not written yet
  bool overflow_ = false;         // wants in the store that are not in fetches_
};

}  // namespace mhr
