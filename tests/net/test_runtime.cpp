// ZmqRuntime and ZmqClient over real sockets: CURVE between nodes, the ZAP
// handler admitting nodes and registered clients only, size limits, timers,
// restarts with LMDB, and queues towards a peer that is down.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <zmq.hpp>

#include "common/chain_store.hpp"
#include "common/client_codec.hpp"
#include "common/message_bundle.hpp"
#include "common/net/replay_window.hpp"
#include "net_harness.hpp"

using namespace mhr;
using namespace mhr::nettest;

namespace {

constexpr TimeUs kCallTimeoutUs = 5 * kUsPerSecond;

// A StoreRequest whose encoding is a little over `bytes`.
MessagePtr store_request_of(std::size_t bytes) {
  Record r;
  r.content_type = "Blob";
  r.payload = SharedBytes(Bytes(bytes, 0x33));
  return make_message(StoreRequest{r});
}

// A raw DEALER with some node's or client's CURVE keys, to send frames the
// runtime would never send itself.
struct RawDealer {
  zmq::context_t ctx;
  zmq::socket_t socket{ctx, zmq::socket_type::dealer};
  RawDealer(const std::string& endpoint, const std::string& server_key, const CurveKeyPair& own) {
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::curve_serverkey, server_key);
    socket.set(zmq::sockopt::curve_publickey, own.public_z85);
    socket.set(zmq::sockopt::curve_secretkey, own.secret_z85);
    socket.connect(endpoint);
  }
  void send(std::string_view kind, const Bytes& body) {
    (void)socket.send(zmq::buffer(kind), zmq::send_flags::sndmore);
    (void)socket.send(zmq::buffer(body), zmq::send_flags::none);
  }
  // A node message as the runtime frames it: 'N', the nonce, a bundle of one.
  void send_node(const Message& m, std::uint64_t nonce) {
    BundleWriter bundle(1 << 20);
    bundle.add(encode(m));
    Bytes n;
    append_be64(n, nonce);
    (void)socket.send(zmq::buffer(std::string_view("N")), zmq::send_flags::sndmore);
    (void)socket.send(zmq::buffer(n), zmq::send_flags::sndmore);
    (void)socket.send(zmq::buffer(bundle.take()), zmq::send_flags::none);
  }
};

// An idempotent request, asked again until answered: right after a node
// restarts, a request may still have gone into the connection that closed.
ClientReply call_until_answered(ZmqClient& client, const ClientRequest& request) {
  for (int attempt = 0;; ++attempt) {
    try {
      return client.call(request, kUsPerSecond);
    } catch (const std::runtime_error&) {
      if (attempt == 4) throw;
    }
  }
}

}  // namespace

TEST_CASE("runtime: two nodes exchange messages over CURVE and know who sent them") {
  Cluster cluster;
  TestNode a(cluster, kRecordNode), b(cluster, kConsensusNode);
  a.start();
  b.start();
  a.exec([](Env& env) {
    env.send(kConsensusNode, presence_query(1));
    env.send(kRecordNode, presence_query(2));  // to itself: delivered locally
  });
  REQUIRE(b.seen().wait([&] { return b.seen().count_from<PresenceQuery>(kRecordNode) == 1; }));
  REQUIRE(a.seen().wait([&] { return a.seen().count_from<PresenceFlag>(kConsensusNode) == 1; }));
  // The query a sent itself came back from itself, and so did the flag.
  REQUIRE(a.seen().wait([&] {
    return a.seen().count_from<PresenceQuery>(kRecordNode) == 1 &&
           a.seen().count_from<PresenceFlag>(kRecordNode) == 1;
  }));
  {
    std::lock_guard lock(a.seen().mu);
    for (const auto& [from, m] : a.seen().messages)
      if (from == kConsensusNode) {
        CHECK(std::get<PresenceFlag>(m).user == user_of(1));
        CHECK(std::get<PresenceFlag>(m).present);
      }
  }
  RuntimeStats sa = a.stats(), sb = b.stats();
  CHECK(sa.messages_out == 1);  // the local one does not touch the network
  CHECK(sa.messages_in == 1);
  CHECK(sb.messages_in == 1);
  CHECK(sb.messages_out == 1);
  CHECK(sa.bytes_out == BundleWriter::single_size(encode(*presence_query(1)).size()));
  CHECK(sa.frames_out == 1);
  CHECK(sa.auth_refused + sb.auth_refused == 0);
  CHECK(sa.dropped_unknown_sender + sb.dropped_unknown_sender == 0);
  // Env basics on the loop thread.
  a.exec([](Env& env) {
    CHECK(env.self() == kRecordNode);
    CHECK(env.now_us() > 1'600'000'000 * kUsPerSecond);
    CHECK(env.random_u64() != env.random_u64());
    Signature sig = env.signer().sign(as_bytes("hello"));
    CHECK(env.verifier().verify(env.signer().public_key(), as_bytes("hello"), sig));
    env.count(Counter::kRetries, 3);
  });
  CHECK(a.stats().counters[static_cast<std::size_t>(Counter::kRetries)] == 3);
}

TEST_CASE(
    "runtime: a registered client gets replies, unknown keys and nodes posing as clients "
    "get nothing") {
  Cluster cluster;
  TestNode a(cluster, kRecordNode);
  a.start();
  const std::string endpoint = cluster.configs[0].listen;
  const std::string server_key = cluster.deployment.address[0].curve_z85;

  ZmqClient client(endpoint, server_key, cluster.client);
  ClientReply r = client.call(RegisterUserRequest{user_of(9), {}}, kCallTimeoutUs);
  CHECK(r.status == ReplyStatus::kOk);
  CHECK(r.detail == "registered");
  SubmitRecordRequest submit;
  submit.user = user_of(9);
  submit.content_type = "Observation";
  submit.payload = SharedBytes(as_bytes("{}"));
  r = client.call(submit, kCallTimeoutUs);
  CHECK(r.detail == "Observation");
  CHECK(r.entry_hash == sha256(as_bytes("{}")));

  // Pipelined: replies matched by id, in any order.
  ClientRequestId id1 = client.send(ReadUserRequest{user_of(9), {}});
  ClientRequestId id2 = client.send(ReadUserRequest{user_of(10), {}});
  CHECK(id1 != id2);
  std::map<ClientRequestId, std::string> got;
  for (int i = 0; i < 2; ++i) {
    ClientRequestId id = 0;
    ClientReply reply;
    REQUIRE(client.receive(id, reply, kCallTimeoutUs));
    got[id] = reply.detail;
  }
  CHECK(got[id1] == "present");
  CHECK(got[id2] == "absent");
  ClientRequestId none = 0;
  ClientReply nothing;
  CHECK_FALSE(client.receive(none, nothing, 20 * kUsPerMs));

  // A key the node does not know: the handshake is refused.
  ZmqClient stranger(endpoint, server_key, curve_pair());
  CHECK_THROWS_AS(stranger.call(ReadUserRequest{user_of(9), {}}, 300 * kUsPerMs),
                  std::runtime_error);
  CHECK(a.wait_stats([](const RuntimeStats& s) { return s.auth_refused >= 1; }));

  // A deployment node is admitted, but as a node: its client requests are
  // dropped.
  ZmqClient impostor(endpoint, server_key, cluster.keys[kIndexNode.value].curve);
  CHECK_THROWS_AS(impostor.call(ReadUserRequest{user_of(9), {}}, 300 * kUsPerMs),
                  std::runtime_error);
  CHECK(a.wait_stats([](const RuntimeStats& s) { return s.dropped_unknown_sender >= 1; }));
  RuntimeStats s = a.stats();
  CHECK(s.client_requests == 4);
  std::lock_guard lock(a.seen().mu);
  CHECK(a.seen().client_requests == 4);
}

TEST_CASE("runtime: hostile frames are dropped and counted, the node keeps working") {
  Cluster cluster;
  TestNode a(cluster, kRecordNode);
  a.start();
  const std::string endpoint = cluster.configs[0].listen;
  const std::string server_key = cluster.deployment.address[0].curve_z85;
  RawDealer index(endpoint, server_key, cluster.keys[kIndexNode.value].curve);
  RawDealer client(endpoint, server_key, cluster.client);

  index.send("N", Bytes{kCodecVersion, 0xEE, 1, 2, 3});  // unknown message tag
  index.send("C",
             encode(ClientRequestFrame{1, ReadUserRequest{user_of(1), {}}}));  // node as client
  client.send("N", encode(*presence_query(1)));                                // client as node
  client.send("C", Bytes{kCodecVersion, 1, 9});  // unknown request tag
  index.send("XX", encode(*presence_query(2)));  // not a kind byte
  CHECK(a.wait_stats([](const RuntimeStats& s) {
    return s.dropped_undecodable == 3 && s.dropped_unknown_sender == 2;
  }));
  // Still serving both.
  index.send_node(*presence_query(3), static_cast<std::uint64_t>(wall_clock_us()));
  CHECK(a.seen().wait([&] { return a.seen().count_from<PresenceQuery>(kIndexNode) == 1; }));
  client.send("C", encode(ClientRequestFrame{77, RegisterUserRequest{user_of(1), {}}}));
  zmq::message_t reply;
  zmq_pollitem_t item{client.socket.handle(), 0, ZMQ_POLLIN, 0};
  REQUIRE(zmq::poll(&item, 1, std::chrono::milliseconds(5000)) == 1);
  REQUIRE(client.socket.recv(reply));
  auto frame = decode<ClientReplyFrame>(ByteView(reply.data<std::uint8_t>(), reply.size()));
  REQUIRE(frame.ok());
  CHECK(frame->id == 77);
  CHECK(frame->reply.detail == "registered");
}

TEST_CASE("runtime: replayed and stale node messages are dropped and counted, never taken twice") {
  Cluster cluster;
  TestNode a(cluster, kRecordNode);
  a.start();
  RawDealer index(cluster.configs[0].listen, cluster.deployment.address[0].curve_z85,
                  cluster.keys[kIndexNode.value].curve);
  auto queries = [&] { return a.seen().count_from<PresenceQuery>(kIndexNode); };
  auto seen_queries = [&](std::size_t n) { return a.seen().wait([&] { return queries() == n; }); };
  const auto now = static_cast<std::uint64_t>(wall_clock_us());
  const std::uint64_t window = ReplayWindow::kWindowUs;

  index.send_node(*presence_query(1), now);
  REQUIRE(seen_queries(1));
  // The same frames again, as an eavesdropping peer would send them.
  index.send_node(*presence_query(1), now);
  // Old enough to have left the window, and from too far in the future.
  index.send_node(*presence_query(2), now - 2 * window);
  index.send_node(*presence_query(3), now + 2 * window);
  CHECK(a.wait_stats(
      [](const RuntimeStats& s) { return s.dropped_replayed == 1 && s.dropped_stale == 2; }));
  // Out of order but new: taken.
  index.send_node(*presence_query(4), now - 1);
  REQUIRE(seen_queries(2));
  const RuntimeStats s = a.stats();
  CHECK(queries() == 2);  // the role never saw the replays
  CHECK(s.messages_in == 2);
  CHECK(s.dropped_undecodable == 0);
  CHECK(runtime_stats_json(s).find("\"dropped_replayed\": 1") != std::string::npos);

  // A real peer's messages still get through: its nonces rise past ours.
  TestNode b(cluster, kConsensusNode);
  b.start();
  b.exec([](Env& env) { env.send(kRecordNode, presence_query(5)); });
  CHECK(a.seen().wait([&] { return a.seen().count_from<PresenceQuery>(kConsensusNode) == 1; }));
  CHECK(a.stats().dropped_replayed == 1);
}

TEST_CASE("runtime: a message above max_message_bytes is dropped and counted, never decoded") {
  Cluster cluster;
  cluster.configs[kConsensusNode.value].max_message_bytes = 4096;
  TestNode a(cluster, kRecordNode), b(cluster, kConsensusNode);
  a.start();
  b.start();

  // Just above b's limit: it arrives and is counted.
  a.exec([](Env& env) { env.send(kConsensusNode, store_request_of(5000)); });
  CHECK(b.wait_stats([](const RuntimeStats& s) { return s.dropped_oversize == 1; }));
  a.exec([](Env& env) { env.send(kConsensusNode, presence_query(1)); });
  REQUIRE(a.seen().wait([&] { return a.seen().count_from<PresenceFlag>(kConsensusNode) == 1; }));

  // Far above it: libzmq drops the connection before reading it all; the
  // sender reconnects and later messages get through (roles retry).
  a.exec([](Env& env) { env.send(kConsensusNode, store_request_of(1 << 20)); });
  bool answered = false;
  for (int i = 0; i < 50 && !answered; ++i) {
    a.exec([](Env& env) { env.send(kConsensusNode, presence_query(2)); });
    answered = a.seen().wait([&] { return a.seen().count_from<PresenceFlag>(kConsensusNode) >= 2; },
                             100ms);
  }
  CHECK(answered);
  CHECK(b.seen().count_from<StoreRequest>(kRecordNode) == 0);

  // The sender refuses to send above its own limit.
  b.exec([](Env& env) { env.send(kRecordNode, store_request_of(5000)); });
  RuntimeStats sb = b.stats();
  CHECK(sb.dropped_oversize == 2);
  CHECK(sb.messages_out >= 2);  // the flags
  CHECK(sb.dropped_undecodable == 0);
}

TEST_CASE("runtime: timers fire in deadline order and cancelled ones never fire") {
  Cluster cluster;
  TestNode a(cluster, kRecordNode);
  a.start();
  auto t0 = std::chrono::steady_clock::now();
  a.exec([](Env& env) {
    env.set_timer(60 * kUsPerMs, 1);
    env.set_timer(20 * kUsPerMs, 2);
    TimerId gone = env.set_timer(40 * kUsPerMs, 3);
    env.set_timer(0, 4);
    env.cancel_timer(gone);
    env.cancel_timer(gone);     // twice is harmless
    env.cancel_timer(123'456);  // unknown too
  });
  REQUIRE(a.seen().wait([&] { return a.seen().fired.size() >= 3; }));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  CHECK(elapsed >= 60ms);
  std::this_thread::sleep_for(30ms);  // room for a wrong extra firing
  std::lock_guard lock(a.seen().mu);
  CHECK(a.seen().fired == std::vector<std::uint64_t>{4, 2, 1});
}

TEST_CASE("runtime: a restarted peer is reached again and its LMDB store survived") {
  Cluster cluster;
  TestNode a(cluster, kRecordNode), b(cluster, kConsensusNode);
  a.start();
  b.start();
  ZmqClient client(cluster.configs[0].listen, cluster.deployment.address[0].curve_z85,
                   cluster.client);
  REQUIRE(client.call(RegisterUserRequest{user_of(5), {}}, kCallTimeoutUs).detail == "registered");
  a.exec([](Env& env) { env.send(kConsensusNode, presence_query(1)); });
  REQUIRE(a.seen().wait([&] { return a.seen().count_from<PresenceFlag>(kConsensusNode) == 1; }));

  // The peer goes away and comes back on the same endpoint and data dir.
  b.stop();
  b.start();
  REQUIRE(b.seen().wait([&] { return b.seen().starts == 2; }));
  bool answered = false;
  for (int i = 0; i < 50 && !answered; ++i) {
    a.exec([](Env& env) { env.send(kConsensusNode, presence_query(2)); });
    answered = a.seen().wait([&] { return a.seen().count_from<PresenceFlag>(kConsensusNode) >= 2; },
                             100ms);
  }
  CHECK(answered);

  // The node with the store restarts: what it wrote is still there, and the
  // client reconnects by itself.
  a.stop();
  a.start();
  CHECK(call_until_answered(client, ReadUserRequest{user_of(5), {}}).detail == "present");
  CHECK(call_until_answered(client, ReadUserRequest{user_of(6), {}}).detail == "absent");
}

TEST_CASE("runtime: a turn's messages to one peer travel as one bundle") {
  Cluster cluster;
  TestNode a(cluster, kRecordNode), c(cluster, kIndexNode);
  c.start();
  a.start();
  a.exec([](Env& env) {
    for (int i = 0; i < 50; ++i) env.send(kIndexNode, presence_query(static_cast<std::uint8_t>(i)));
  });
  CHECK(c.seen().wait([&] { return c.seen().count_from<PresenceQuery>(kRecordNode) == 50; }));
  const RuntimeStats s = a.stats();
  CHECK(s.messages_out == 50);
  CHECK(s.frames_out == 1);
  CHECK(c.stats().frames_in == 1);
  CHECK(c.stats().messages_in == 50);
}

TEST_CASE("runtime: messages to a down peer queue up to the high-water mark and never block") {
  Cluster cluster;
  cluster.configs[kRecordNode.value].send_hwm = 5;
  TestNode a(cluster, kRecordNode), c(cluster, kIndexNode);
  a.start();
  auto t0 = std::chrono::steady_clock::now();
  // One message a turn: the messages of one turn would go as one bundle.
  for (int i = 0; i < 200; ++i)
    a.exec([i](Env& env) { env.send(kIndexNode, presence_query(static_cast<std::uint8_t>(i))); });
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  RuntimeStats s = a.stats();
  CHECK(s.dropped_queue_full >= 150);
  CHECK(s.messages_out + s.dropped_queue_full == 200);
  // The queued ones arrive once the peer is up.
  c.start();
  CHECK(c.seen().wait([&] { return c.seen().count_from<PresenceQuery>(kRecordNode) >= 1; }));
  CHECK(a.seen().wait([&] { return a.seen().count_from<PresenceFlag>(kIndexNode) >= 1; }));
  std::this_thread::sleep_for(50ms);
  std::lock_guard lock(c.seen().mu);
  CHECK(c.seen().count_from<PresenceQuery>(kRecordNode) == s.messages_out);
}

TEST_CASE("runtime: a store that cannot open and a busy endpoint are refused by name") {
  Cluster cluster;
  {
    NodeConfig config = cluster.configs[0];
    std::filesystem::path file = cluster.dir.path() / "not-a-dir";
    std::ofstream(file) << "x";
    config.data_dir = (file / "store").string();
    try {
      ZmqRuntime rt(config, cluster.deployment, cluster.keys[0]);
      FAIL("opened a store under a file");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find(config.data_dir) != std::string::npos);
    }
  }
  TestNode a(cluster, kRecordNode);
  a.start();
  NodeConfig other = cluster.configs[1];
  other.listen = cluster.configs[0].listen;
  try {
    ZmqRuntime rt(other, cluster.deployment, cluster.keys[1]);
    FAIL("bound a busy endpoint");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find(other.listen) != std::string::npos);
  }
  // Keys that do not match the deployment.
  NodeKeys wrong = cluster.keys[1];
  wrong.curve = curve_pair();
  CHECK_THROWS_AS(ZmqRuntime(cluster.configs[1], cluster.deployment, wrong), std::runtime_error);
}

TEST_CASE("runtime: a role's StoreError stops run() and propagates") {
  Cluster cluster;
  TestNode a(cluster, kRecordNode);
  a.start();
  a.post([](Env&) { throw StoreError("disk full"); });
  std::exception_ptr e = a.join_failed();
  REQUIRE(e != nullptr);
  CHECK_THROWS_AS(std::rethrow_exception(e), StoreError);
  // Everything was closed: the endpoint and the store can be used again.
  TestNode again(cluster, kRecordNode);
  again.start();
  ZmqClient client(cluster.configs[0].listen, cluster.deployment.address[0].curve_z85,
                   cluster.client);
  CHECK(call_until_answered(client, ReadUserRequest{user_of(1), {}}).detail == "absent");
}
