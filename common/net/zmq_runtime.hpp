// ZmqRuntime: runs one role's state machine as a real process. One event
// loop (zmq_poll plus a timer heap) drives the role through an Env backed
// by ZeroMQ and LMDB:
//  * a ROUTER socket bound on the node's endpoint receives from peers and
//    clients; one DEALER per peer sends to it;
//  * every connection is CURVE-encrypted and authenticated: a ZAP handler
//    admits only the CURVE keys of the deployment's nodes and of the node's
//    registered clients, and names the sender by its key;
//  * every node message carries its sender's nonce: one taken before, or
//    outside the window, is a replay, dropped and counted (ReplayWindow);
//  * reconnects with back-off, ZMTP heartbeats detect dead peers,
//    high-water marks bound every queue, and messages above the maximum size
//    are dropped and counted, never decoded;
//  * the store is LMDB: every write is durable before the role goes on, so
//    nothing it acknowledged can be lost.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "common/env.hpp"
#include "common/net/deployment.hpp"

namespace mhr {

struct RuntimeStats {
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t frames_in = 0;  // node frames: each a bundle of one or more messages
  std::uint64_t frames_out = 0;
  std::uint64_t dropped_oversize = 0;
  std::uint64_t dropped_undecodable = 0;
  std::uint64_t dropped_unknown_sender = 0;
  std::uint64_t dropped_queue_full = 0;
  std::uint64_t dropped_replayed = 0;  // a node message whose nonce was taken already
  std::uint64_t dropped_stale = 0;     // a node message whose nonce is outside the window
  std::uint64_t client_requests = 0;
  std::uint64_t auth_refused = 0;
  std::uint64_t signature_checks = 0;  // Ed25519 verifications (mhr bench's crypto efficiency)
  std::array<std::int64_t, kCounterCount> counters{};
  std::array<std::uint64_t, kMessageTypeCount> out_by_type{};
  std::uint64_t out_intra = 0;  // to nodes of the same edge network
  std::uint64_t out_inter = 0;
};

// The figures a node reports when it stops (written as metrics.json into
// its data directory), read back by mhr launch.
std::string runtime_stats_json(const RuntimeStats& stats);

class ZmqRuntime {
 public:
  using LogicFactory = std::function<std::unique_ptr<NodeLogic>(Env&)>;

  // Opens the store (LMDB in config.data_dir), binds, connects to peers.
  // Throws std::runtime_error with a clear message when it cannot.
  ZmqRuntime(const NodeConfig& config, const Deployment& deployment, const NodeKeys& keys);
  ~ZmqRuntime();
  ZmqRuntime(const ZmqRuntime&) = delete;
  ZmqRuntime& operator=(const ZmqRuntime&) = delete;

  // Creates the role, calls start(), and runs until `stop` becomes true
  // (set it from a signal handler), then closes everything cleanly.
  void run(const LogicFactory& factory, const std::atomic<bool>& stop);

  // Not synchronised: read them on the loop's thread (from role code) or
  // after run() returned. So is env().
  const RuntimeStats& stats() const;
  Env& env();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A client of a node (record nodes take requests; every node answers status
// queries from its registered clients): a DEALER with its own CURVE key connected to one
// node. Requests are pipelined; replies are matched by request id.
// Microseconds since the Unix epoch: the clock of real nodes, and the time
// a real client puts in its credentials.
TimeUs wall_clock_us();

class ZmqClient {
 public:
  ZmqClient(const std::string& endpoint, const std::string& server_curve_z85,
            const CurveKeyPair& client_keys);
  ~ZmqClient();
  ZmqClient(const ZmqClient&) = delete;
  ZmqClient& operator=(const ZmqClient&) = delete;

  // Sends without waiting; returns the request id.
  ClientRequestId send(const ClientRequest& request);
  // Waits up to timeout_us for one reply; false on time-out.
  bool receive(ClientRequestId& id, ClientReply& reply, TimeUs timeout_us);
  // Sleeps until one of the clients may have a reply or timeout_us passed
  // (rounded up to a millisecond), so a load driver with many connections
  // blocks in one poll instead of spinning over them.
  static void wait_any(const std::vector<ZmqClient*>& clients, TimeUs timeout_us);
  // send + wait for its reply; throws std::runtime_error on time-out.
  ClientReply call(const ClientRequest& request, TimeUs timeout_us);
  // Asks the node what work it still has in flight (NodeLogic::work_in_flight):
  // empty when idle. Throws std::runtime_error on time-out.
  std::string work_in_flight(TimeUs timeout_us);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mhr
