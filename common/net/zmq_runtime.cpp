#include "common/net/zmq_runtime.hpp"

#include <zmq.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <map>
#include <queue>
#include <random>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include <absl/container/flat_hash_map.h>

#include "common/chain_store.hpp"
#include "common/client_codec.hpp"
#include "common/message_bundle.hpp"
#include "common/net/replay_window.hpp"
#include "common/net/signature_prefetch.hpp"
#include "common/net/verify_memo.hpp"
#include "common/record_pool.hpp"
#include "common/signer.hpp"

// Wire format. A client's request is two frames: the kind byte 'C' and the
// codec encoding of a ClientRequestFrame. A node's message is three: 'N',
// the sender's nonce (8 bytes, big-endian; see ReplayWindow) and the
// encoding of the Message. The ROUTER sees the routing identity in front. Who sent it is not in the
// bytes but in the connection: the ZAP handler names every authenticated CURVE key "n<id>" (a node
// of the deployment) or "c" (a registered client), and libzmq hands that name to us as the
// "User-Id" property of each frame. Replies to clients go back through the ROUTER as one frame (a
// ClientReplyFrame). A client's status query is 'S' and its 8-byte id (big-endian); the runtime
// answers it at once, without the role, with the role's work_in_flight() as the reply's detail.

namespace mhr {

TimeUs wall_clock_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

using SteadyClock = std::chrono::steady_clock;
using CurveKey = std::array<std::uint8_t, 32>;

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr const char* kZapDomain = "mhr";
// libzmq checks ZMQ_MAXMSGSIZE against frames as they travel, i.e. CURVE
// boxes (33 bytes of overhead). A frame up to this much above our own limit
// still arrives and is dropped and counted here; a larger one makes libzmq
// drop the connection (the peer reconnects) without decoding anything.
constexpr std::int64_t kWireSlackBytes = 64 * 1024;
// How long closing sockets may still flush queued messages.
constexpr int kCloseFlushMs = 100;
// The loop wakes at least this often to notice `stop`.
constexpr TimeUs kMaxPollUs = 100 * kUsPerMs;
// Messages handled per loop turn before timers and local messages get a turn.
constexpr std::size_t kMaxBatch = 256;
// Signatures remembered as checked (about 100 bytes each): a node's own
// records come back within seconds, far fewer than this many signatures later.
constexpr std::size_t kVerifyMemoEntries = 1 << 16;
constexpr std::size_t kMinPrefetchChecks = 3;
constexpr int kMaxHeartbeatTtlMs = 6'553'599;  // libzmq's limit

constexpr std::uint8_t kKindNode = 'N';
constexpr std::uint8_t kKindClient = 'C';
constexpr std::uint8_t kKindStatus = 'S';
constexpr std::string_view kClientUserId = "c";

CurveKey decode_curve_key(const std::string& z85, const std::string& what) {
  CurveKey key{};
  if (z85.size() != 40 || zmq_z85_decode(key.data(), z85.c_str()) == nullptr)
    throw std::runtime_error(what + " is not a CURVE key in Z85 form (40 characters): '" + z85 +
                             "'");
  return key;
}

CurveKey curve_public_of(const std::string& secret_z85, const std::string& what) {
  decode_curve_key(secret_z85, what);
  char public_z85[41] = {};
  if (zmq_curve_public(public_z85, secret_z85.c_str()) != 0)
    throw std::runtime_error(what + ": cannot derive the CURVE public key");
  return decode_curve_key(public_z85, what);
}

std::string_view key_view(const CurveKey& k) {
  return {reinterpret_cast<const char*>(k.data()), k.size()};
}

// Milliseconds for a socket option, rounded up, within [0, max].
int to_ms(TimeUs us, int max = INT_MAX) {
  if (us <= 0) return 0;
  TimeUs ms = (us + kUsPerMs - 1) / kUsPerMs;
  return static_cast<int>(std::min<TimeUs>(ms, max));
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / kUsPerSecond);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06lldZ", static_cast<long long>(us % kUsPerSecond));
  return buf;
}

ByteView view_of(const zmq::message_t& m) {
  return {m.data<std::uint8_t>(), m.size()};
}

std::span<std::uint8_t> span_of(zmq::message_t& m) {
  return {m.data<std::uint8_t>(), m.size()};
}

// A frame holding the encoding of `value`, written straight into the
// frame's own buffer: one allocation, which ZeroMQ owns.
template <class T>
zmq::message_t frame_of(const T& value, std::size_t encoded_bytes) {
  zmq::message_t frame(encoded_bytes);
  encode_into(span_of(frame), value);
  return frame;
}

// Receives the rest of a multipart message after `first` into `parts`,
// whose capacity is kept from frame to frame.
void receive_rest(zmq::socket_t& s, const zmq::message_t& first,
                  std::vector<zmq::message_t>& parts) {
  parts.clear();
  bool more = first.more();
  while (more) {
    zmq::message_t part;
    if (!s.recv(part, zmq::recv_flags::none)) break;  // parts arrive together
    more = part.more();
    parts.push_back(std::move(part));
  }
}

void set_heartbeats(zmq::socket_t& s, const NodeConfig& config) {
  if (config.heartbeat_us <= 0) return;
  s.set(zmq::sockopt::heartbeat_ivl, to_ms(config.heartbeat_us));
  s.set(zmq::sockopt::heartbeat_timeout, to_ms(config.heartbeat_timeout_us));
  s.set(zmq::sockopt::heartbeat_ttl, to_ms(config.heartbeat_timeout_us, kMaxHeartbeatTtlMs));
}

bool rate_limit_ok(SteadyClock::time_point& last) {
  auto now = SteadyClock::now();
  if (last != SteadyClock::time_point{} && now - last < std::chrono::seconds(1)) return false;
  last = now;
  return true;
}

}  // namespace

struct ZmqRuntime::Impl final : Env {
  Impl(const NodeConfig& cfg, const Deployment& dep, const NodeKeys& keys);
  ~Impl() override { close(); }

  // Env
  NodeId self() const override { return config.id; }
  TimeUs now_us() const override { return wall_clock_us(); }
  void send(NodeId to, MessagePtr message) override;
  TimerId set_timer(TimeUs delay_us, std::uint64_t tag) override;
  void cancel_timer(TimerId id) override { pending_timers.erase(id); }
  Store& store() override {
    if (!store_) throw StoreError("the store of " + to_string(config.id) + " is closed");
    return *store_;
  }
  std::uint64_t random_u64() override { return rng(); }
  const Signer& signer() const override { return *signer_; }
  const Verifier& verifier() const override { return *verifier_; }
  void reply(ClientRequestId id, ClientReply reply) override;
  void count(Counter c, std::int64_t delta) override {
    auto i = static_cast<std::size_t>(c);
    MHR_ASSERT(i < kCounterCount);
    stats.counters[i] += delta;
  }
  void log(LogLevel level, std::string_view text) override;

  void loop(const std::atomic<bool>& stop);
  void begin_group();
  void end_group();
  void transmit(NodeId to, std::span<const MessagePtr> messages);
  void send_bundle(NodeId to, std::span<const MessagePtr> messages,
                   std::span<const std::size_t> encoded_sizes, std::size_t frame_bytes);
  void transmit_held();
  void transmit_reply(ClientRequestId id, ClientReply reply);
  void send_to_client(const std::string& identity, const ClientReplyFrame& frame,
                      std::size_t encoded_bytes);
  void answer_status(const zmq::message_t& identity, const std::vector<zmq::message_t>& parts);
  void handle_zap();
  void handle_router(const std::atomic<bool>& stop);
  // A message or client request taken from the socket, checked and decoded.
  struct Arrival {
    NodeId from;
    ClientRequestId client = 0;  // nonzero: a client request
    std::optional<Message> message;
    std::optional<ClientRequest> request;
  };
  void take_frames(zmq::message_t& identity, std::vector<zmq::message_t>& parts);
  void prefetch_signatures();
  void fire_due_timers(const std::atomic<bool>& stop);
  void deliver_local(const std::atomic<bool>& stop);
  long poll_timeout_ms() const;
  zmq::socket_t& dealer_for(NodeId to);
  void undecodable(std::string_view what, DecodeError e);
  bool admit_nonce(NodeId from, std::uint64_t nonce);
  void close();

  struct Timer {
    SteadyClock::time_point deadline;
    TimerId id;
    std::uint64_t tag;
    bool operator>(const Timer& o) const {
      return deadline != o.deadline ? deadline > o.deadline : id > o.id;
    }
  };
  struct PendingClient {
    std::string identity;  // the client's routing identity on the ROUTER
    ClientRequestId client_id;
  };

  NodeConfig config;
  Deployment deployment;
  RuntimeStats stats;
  bool log_debug = false;

  CurveKey own_public{};
  CurveKey own_secret{};
  std::vector<CurveKey> node_curve;  // by node id
  std::map<std::string, NodeId, std::less<>> node_by_key;
  std::set<std::string, std::less<>> client_keys;

  std::unique_ptr<Store> store_;
  VerifyMemo memo{kVerifyMemoEntries};
  std::unique_ptr<Signer> signer_;
  std::unique_ptr<Verifier> verifier_;
  std::unique_ptr<SignaturePool> signature_pool;
  std::vector<Arrival> arrivals;  // of the current turn
  SignatureBatch checks;          // of the current turn's arrivals
  // While a turn's writes are not durable yet: what it sends and replies.
  bool grouping = false;
  std::vector<std::pair<NodeId, MessagePtr>> held_messages;
  std::vector<std::pair<ClientRequestId, ClientReply>> held_replies;
  // Scratch of the send and receive paths, kept from turn to turn so that
  // a turn in the steady state allocates nothing for its framing.
  std::vector<std::uint32_t> peer_rank;    // by node id: 1 + index in held_peers, 0 if none
  std::vector<NodeId> held_peers;          // in the order first sent to
  std::vector<std::size_t> held_ends;      // where each peer's messages end in held_sorted
  std::vector<MessagePtr> held_sorted;     // the turn's messages, grouped by peer
  std::vector<std::size_t> encoded_sizes;  // of the messages being transmitted
  std::vector<zmq::message_t> parts;       // of the frame being received
  std::vector<Message> bundle;             // the messages of the frame being received
  std::mt19937_64 rng;

  // Declared before the sockets: destroyed after them.
  zmq::context_t ctx;
  zmq::socket_t zap;
  zmq::socket_t router;
  std::unordered_map<NodeId, zmq::socket_t> dealers;

  std::deque<MessagePtr> local;  // sent to self, delivered next turn
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers;
  std::unordered_set<TimerId> pending_timers;
  TimerId next_timer = 1;
  absl::flat_hash_map<ClientRequestId, PendingClient> clients;
  ClientRequestId next_client = 1;

  NonceClock nonces;     // of the messages this node sends
  ReplayWindow replays;  // of the messages it receives
  std::unique_ptr<NodeLogic> logic;
  bool ran = false;
  bool closed = false;
  SteadyClock::time_point last_undecodable_log{};
  SteadyClock::time_point last_refused_log{};
  SteadyClock::time_point last_drop_log{};
  SteadyClock::time_point last_replay_log{};
};

ZmqRuntime::Impl::Impl(const NodeConfig& cfg, const Deployment& dep, const NodeKeys& keys)
    : config(cfg), deployment(dep) {
  const char* level = std::getenv("MHR_LOG");
  log_debug = level != nullptr && std::string_view(level) == "debug";

  if (!deployment.topology) throw std::runtime_error("the deployment has no topology");
  const Topology& topo = *deployment.topology;
  const std::string me = "node " + to_string(config.id);
  if (!topo.has_node(config.id))
    throw std::runtime_error(me + " is not in the deployment's topology");
  if (deployment.address.size() != topo.node_count())
    throw std::runtime_error("the deployment lists " + std::to_string(deployment.address.size()) +
                             " addresses for " + std::to_string(topo.node_count()) + " nodes");
  if (config.max_message_bytes == 0) throw std::runtime_error("max_message_bytes must be > 0");

  // Transport keys: our own pair must be the one the deployment announces.
  own_secret = decode_curve_key(keys.curve.secret_z85, me + ": the secret CURVE key");
  own_public = curve_public_of(keys.curve.secret_z85, me + ": the secret CURVE key");
  if (!keys.curve.public_z85.empty() &&
      decode_curve_key(keys.curve.public_z85, me + ": the public CURVE key") != own_public)
    throw std::runtime_error(me + ": the public CURVE key does not match the secret key");
  node_curve.reserve(topo.node_count());
  for (std::size_t i = 0; i < topo.node_count(); ++i) {
    const std::string what = "the CURVE key of node " + std::to_string(i);
    node_curve.push_back(decode_curve_key(deployment.address[i].curve_z85, what));
    if (!node_by_key.emplace(std::string(key_view(node_curve.back())), NodeId{std::uint32_t(i)})
             .second)
      throw std::runtime_error(what + " is also another node's key");
  }
  if (node_curve[config.id.value] != own_public)
    throw std::runtime_error(me + ": its CURVE key is not the one in the deployment");
  for (const std::string& k : config.client_keys)
    client_keys.emplace(key_view(decode_curve_key(k, "client key")));

  // Signing key: must be the one the topology gives this node.
  const Verifier& scheme = verifier_for(topo.params().crypto);
  signer_ = std::make_unique<MemoSigner>(make_signer(topo.params().crypto, keys.sign_seed), memo);
  verifier_ = std::make_unique<MemoVerifier>(scheme, memo, stats.signature_checks);
  signature_pool =
      std::make_unique<SignaturePool>(config.verify_threads, scheme, memo, stats.signature_checks);
  if (signer_->public_key() != topo.node(config.id).key)
    throw std::runtime_error(me + ": its signing key is not the one in the topology");

  LmdbOptions lmdb;
  lmdb.fsync = config.fsync;
  auto opened = open_lmdb_store(config.data_dir, lmdb);
  if (!opened)
    throw std::runtime_error(me + ": cannot open the store in '" + config.data_dir +
                             "': " + opened.error());
  store_ = std::move(opened.value());

  std::array<std::uint8_t, 32> seed_bytes{};
  secure_random(seed_bytes);
  std::seed_seq seq(seed_bytes.begin(), seed_bytes.end());
  rng.seed(seq);

  try {
    ctx.set(zmq::ctxopt::max_sockets,
            static_cast<int>(std::max<std::size_t>(1024, topo.node_count() + 16)));
    // The ZAP handler first: a CURVE server without one admits everybody.
    zap = zmq::socket_t(ctx, zmq::socket_type::rep);
    zap.set(zmq::sockopt::linger, 0);
    zap.bind(kZapEndpoint);

    router = zmq::socket_t(ctx, zmq::socket_type::router);
    router.set(zmq::sockopt::linger, kCloseFlushMs);
    router.set(zmq::sockopt::router_mandatory, false);
    router.set(zmq::sockopt::sndhwm, config.send_hwm);
    router.set(zmq::sockopt::rcvhwm, config.recv_hwm);
    router.set(zmq::sockopt::maxmsgsize,
               static_cast<std::int64_t>(config.max_message_bytes) + kWireSlackBytes);
    set_heartbeats(router, config);
    router.set(zmq::sockopt::zap_domain, kZapDomain);
    router.set(zmq::sockopt::curve_server, true);
    router.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(own_secret.data(), 32));
  } catch (const zmq::error_t& e) {
    throw std::runtime_error(me + ": cannot set up its sockets: " + e.what());
  }
  try {
    router.bind(config.listen);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error(me + ": cannot listen on '" + config.listen + "': " + e.what());
  }
}

zmq::socket_t& ZmqRuntime::Impl::dealer_for(NodeId to) {
  auto it = dealers.find(to);
  if (it != dealers.end()) return it->second;
  const std::string& endpoint = deployment.address[to.value].endpoint;
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  try {
    s.set(zmq::sockopt::linger, kCloseFlushMs);
    s.set(zmq::sockopt::sndhwm, config.send_hwm);
    s.set(zmq::sockopt::rcvhwm, config.recv_hwm);
    s.set(zmq::sockopt::immediate, false);  // queue while connecting
    s.set(zmq::sockopt::reconnect_ivl, std::max(1, to_ms(config.reconnect_us)));
    s.set(zmq::sockopt::reconnect_ivl_max, to_ms(config.reconnect_max_us));
    // Nothing is ever sent back on this connection.
    s.set(zmq::sockopt::maxmsgsize, std::int64_t{kWireSlackBytes});
    set_heartbeats(s, config);
    s.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(node_curve[to.value].data(), 32));
    s.set(zmq::sockopt::curve_publickey, zmq::const_buffer(own_public.data(), 32));
    s.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(own_secret.data(), 32));
    s.connect(endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot connect to node " + to_string(to) + " at '" + endpoint +
                             "': " + e.what());
  }
  log(LogLevel::kDebug, "connecting to " + to_string(to) + " at " + endpoint);
  return dealers.emplace(to, std::move(s)).first->second;
}

void ZmqRuntime::Impl::send(NodeId to, MessagePtr message) {
  MHR_ASSERT(message != nullptr);
  if (!deployment.topology->has_node(to)) {
    log(LogLevel::kWarn, "send to unknown node " + to_string(to) + " dropped");
    return;
  }
  if (to == config.id) {
    local.push_back(std::move(message));
    return;
  }
  if (grouping) {  // leaves once what led to it is durable
    held_messages.emplace_back(to, std::move(message));
    return;
  }
  transmit(to, std::span<const MessagePtr>(&message, 1));
}

// Sends `messages` to `to` in order, as few bundles as fit the frame limit.
// Each message is measured (a counting pass) and then encoded once, straight
// into its bundle's frame.
void ZmqRuntime::Impl::transmit(NodeId to, std::span<const MessagePtr> messages) {
  MHR_ASSERT(deployment.topology->has_node(to));
  encoded_sizes.resize(messages.size());
  std::size_t first = 0;  // of the messages in the bundle being measured
  std::size_t bundle_bytes = 0;
  auto flush = [&](std::size_t end) {
    if (end > first)
      send_bundle(to, messages.subspan(first, end - first),
                  std::span<const std::size_t>(encoded_sizes).subspan(first, end - first),
                  bundle_bytes);
    bundle_bytes = 0;
  };
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const Message& m = *messages[i];
    encoded_sizes[i] = encoded_size(m);
    const std::size_t entry_bytes = BundleWriter::single_size(encoded_sizes[i]);
    if (entry_bytes > config.max_message_bytes) {
      flush(i);
      first = i + 1;
      ++stats.dropped_oversize;
      log(LogLevel::kWarn, "a " + std::string(message_type_name(m)) + " of " +
                               std::to_string(encoded_sizes[i]) + " bytes to " + to_string(to) +
                               " is above max_message_bytes; dropped");
      continue;
    }
    if (i - first == kMaxBundleMessages || bundle_bytes + entry_bytes > config.max_message_bytes) {
      flush(i);
      first = i;
    }
    bundle_bytes += entry_bytes;
  }
  flush(messages.size());
}

void ZmqRuntime::Impl::send_bundle(NodeId to, std::span<const MessagePtr> messages,
                                   std::span<const std::size_t> encoded_sizes,
                                   std::size_t frame_bytes) {
  zmq::socket_t& s = dealer_for(to);
  // The kind and the nonce are small enough for ZeroMQ to keep inline.
  zmq::message_t kind(&kKindNode, 1);
  std::array<std::uint8_t, 8> nonce_bytes;
  const std::uint64_t n = nonces.next(wall_clock_us());
  for (std::size_t i = 0; i < nonce_bytes.size(); ++i)
    nonce_bytes[i] = std::uint8_t(n >> (56 - 8 * i));
  zmq::message_t nonce(nonce_bytes.data(), nonce_bytes.size());
  zmq::message_t body(frame_bytes);
  write_bundle(span_of(body), messages, encoded_sizes);
  if (!s.send(kind, zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
      !s.send(nonce, zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
      !s.send(body, zmq::send_flags::dontwait)) {
    stats.dropped_queue_full += messages.size();
    if (rate_limit_ok(last_drop_log))
      log(LogLevel::kWarn, "queue to " + to_string(to) + " is full; messages dropped");
    return;
  }
  ++stats.frames_out;
  stats.bytes_out += frame_bytes;
  const Topology& topo = *deployment.topology;
  const bool intra = topo.network_of(to) == topo.network_of(config.id);
  for (const MessagePtr& m : messages) {
    ++stats.messages_out;
    ++stats.out_by_type[m->index()];
    ++(intra ? stats.out_intra : stats.out_inter);
  }
}

TimerId ZmqRuntime::Impl::set_timer(TimeUs delay_us, std::uint64_t tag) {
  TimerId id = next_timer++;
  auto deadline = SteadyClock::now() + std::chrono::microseconds(std::max<TimeUs>(delay_us, 0));
  // Cancelled timers stay in the heap until due; rebuild it when they
  // outnumber the live ones.
  if (timers.size() > 1024 && timers.size() > 2 * pending_timers.size()) {
    std::vector<Timer> live;
    live.reserve(pending_timers.size());
    for (; !timers.empty(); timers.pop())
      if (pending_timers.count(timers.top().id)) live.push_back(timers.top());
    timers = decltype(timers)(std::greater<>{}, std::move(live));
  }
  timers.push(Timer{deadline, id, tag});
  pending_timers.insert(id);
  return id;
}

void ZmqRuntime::Impl::reply(ClientRequestId id, ClientReply reply) {
  if (grouping) {
    held_replies.emplace_back(id, std::move(reply));
    return;
  }
  transmit_reply(id, std::move(reply));
}

void ZmqRuntime::Impl::transmit_reply(ClientRequestId id, ClientReply reply) {
  auto it = clients.find(id);
  if (it == clients.end()) {
    log(LogLevel::kWarn, "reply to unknown client request " + std::to_string(id) + " ignored");
    return;
  }
  PendingClient client = std::move(it->second);
  clients.erase(it);
  if (reply.detail.size() > kMaxDetailBytes) reply.detail.resize(kMaxDetailBytes);
  ClientReplyFrame frame{client.client_id, std::move(reply)};
  std::size_t size = 0;
  if (frame.reply.records.size() <= kMaxReplyRecords) {
    Writer w = Writer::counting();
    w.u8(kCodecVersion);
    Codec<ClientReplyFrame>::write(w, frame);
    size = w.size();
  }
  if (size == 0 || size > config.max_message_bytes) {
    ++stats.dropped_oversize;
    std::string why = "reply too large (" + std::to_string(frame.reply.records.size()) +
                      " records, " + std::to_string(size) + " bytes)";
    log(LogLevel::kWarn, "client request " + std::to_string(id) + ": " + why);
    frame.reply = make_reply(ReplyStatus::kUnavailable, why);
    size = encoded_size(frame);
  }
  send_to_client(client.identity, frame, size);
}

void ZmqRuntime::Impl::send_to_client(const std::string& identity, const ClientReplyFrame& frame,
                                      std::size_t encoded_bytes) {
  zmq::message_t to(identity.data(), identity.size());
  zmq::message_t body = frame_of(frame, encoded_bytes);
  // Unknown identities (the client left) and full queues drop silently.
  if (!router.send(to, zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
      !router.send(body, zmq::send_flags::dontwait))
    ++stats.dropped_queue_full;
}

void ZmqRuntime::Impl::answer_status(const zmq::message_t& identity,
                                     const std::vector<zmq::message_t>& parts) {
  if (parts.size() != 2 || parts[1].size() != 8) {
    undecodable("status query", DecodeError::kInvalidValue);
    return;
  }
  std::string work = logic->work_in_flight();
  if (work.size() > kMaxDetailBytes) work.resize(kMaxDetailBytes);
  const ClientReplyFrame frame{read_be64(view_of(parts[1])),
                               make_reply(ReplyStatus::kOk, std::move(work))};
  send_to_client(identity.to_string(), frame, encoded_size(frame));
}

void ZmqRuntime::Impl::log(LogLevel level, std::string_view text) {
  if (level == LogLevel::kDebug && !log_debug) return;
  std::string line = timestamp();
  line += " n";
  line += std::to_string(config.id.value);
  line += ' ';
  line += log_level_name(level);
  line += ": ";
  line += text;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void ZmqRuntime::Impl::undecodable(std::string_view what, DecodeError e) {
  ++stats.dropped_undecodable;
  if (rate_limit_ok(last_undecodable_log))
    log(LogLevel::kWarn, "undecodable " + std::string(what) +
                             " dropped: " + std::string(describe(e)) + " (" +
                             std::to_string(stats.dropped_undecodable) + " so far)");
}

// ZAP (RFC 27): version, request id, domain, address, routing id, mechanism,
// credentials in; version, request id, status code, status text, user id,
// metadata out.
// A node message taken before (or outside the window) is dropped and
// counted, never decoded: the role sees every message at most once.
bool ZmqRuntime::Impl::admit_nonce(NodeId from, std::uint64_t nonce) {
  const ReplayWindow::Verdict v = replays.admit(from, nonce, wall_clock_us());
  if (v == ReplayWindow::Verdict::kFresh) return true;
  const bool replayed = v == ReplayWindow::Verdict::kReplayed;
  ++(replayed ? stats.dropped_replayed : stats.dropped_stale);
  if (rate_limit_ok(last_replay_log))
    log(LogLevel::kWarn, std::string(replayed ? "a replayed" : "a stale") + " message from " +
                             to_string(from) + " dropped (" +
                             std::to_string(stats.dropped_replayed + stats.dropped_stale) +
                             " so far)");
  return false;
}

void ZmqRuntime::Impl::handle_zap() {
  for (;;) {
    zmq::message_t first;
    if (!zap.recv(first, zmq::recv_flags::dontwait)) return;
    std::vector<zmq::message_t> request;
    receive_rest(zap, first, request);
    request.insert(request.begin(), std::move(first));

    std::string status = "400", text = "unknown key", user_id;
    if (request.size() >= 7 && request[0].to_string_view() == "1.0") {
      if (request[5].to_string_view() == "CURVE" && request[6].size() == 32) {
        std::string_view key = request[6].to_string_view();
        if (auto node = node_by_key.find(key); node != node_by_key.end()) {
          user_id = "n" + std::to_string(node->second.value);
        } else if (client_keys.count(key)) {
          user_id = std::string(kClientUserId);
        }
        if (!user_id.empty()) {
          status = "200";
          text = "OK";
        }
      } else {
        text = "CURVE only";
      }
    } else {
      text = "malformed ZAP request";
    }
    if (status != "200") {
      ++stats.auth_refused;
      if (rate_limit_ok(last_refused_log)) {
        std::string address = request.size() > 3 ? request[3].to_string() : "?";
        log(LogLevel::kWarn, "refused a connection from " + address + ": " + text + " (" +
                                 std::to_string(stats.auth_refused) + " so far)");
      }
    } else {
      log(LogLevel::kDebug, "admitted " + user_id);
    }
    std::string request_id = request.size() > 1 ? request[1].to_string() : std::string();
    const std::string frames[] = {"1.0", request_id, status, text, user_id, ""};
    for (std::size_t i = 0; i < std::size(frames); ++i) {
      zmq::message_t m(frames[i].data(), frames[i].size());
      auto flags = i + 1 < std::size(frames) ? zmq::send_flags::sndmore : zmq::send_flags::none;
      (void)zap.send(m, flags);
    }
  }
}

// Takes what is waiting (a bounded batch), checks its signatures across
// the pool, then hands it to the role in arrival order.
void ZmqRuntime::Impl::handle_router(const std::atomic<bool>& stop) {
  arrivals.clear();
  for (std::size_t n = 0; n < kMaxBatch && !stop.load(std::memory_order_relaxed); ++n) {
    zmq::message_t identity;
    if (!router.recv(identity, zmq::recv_flags::dontwait)) break;
    receive_rest(router, identity, parts);
    take_frames(identity, parts);
  }
  prefetch_signatures();
  for (Arrival& a : arrivals) {
    if (a.request) logic->on_client(a.client, *a.request);
    if (a.message) logic->on_message(a.from, *a.message);
  }
  arrivals.clear();
}

void ZmqRuntime::Impl::prefetch_signatures() {
  checks.clear();
  const Topology& topology = *deployment.topology;
  for (const Arrival& a : arrivals) {
    if (a.request) collect_checks(*a.request, config.id, checks);
    if (!a.message) continue;
    collect_checks(*a.message, topology, checks);
    collect_role_checks(*logic, a.from, *a.message, checks);
  }
  // One or two checks are not worth waking the pool: the role makes them.
  if (checks.size() >= kMinPrefetchChecks) signature_pool->run(checks);
  checks.clear();
}

// Checks a frame's sender, kind and size, decodes it and adds what it holds
// to the turn's arrivals.
void ZmqRuntime::Impl::take_frames(zmq::message_t& identity, std::vector<zmq::message_t>& parts) {
  if (parts.empty()) {
    undecodable("message", DecodeError::kTruncated);
    return;
  }
  // The sender, as the ZAP handler named its key.
  const char* uid = zmq_msg_gets(parts[0].handle(), "User-Id");
  std::string_view user_id = uid != nullptr ? uid : "";
  std::optional<NodeId> from;
  bool client = false;
  if (user_id == kClientUserId) {
    client = true;
  } else if (user_id.size() > 1 && user_id[0] == 'n') {
    std::uint32_t id = 0;
    bool digits = true;
    for (char c : user_id.substr(1)) {
      if (c < '0' || c > '9' || id > (UINT32_MAX - 9) / 10) digits = false;
      if (!digits) break;
      id = id * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (digits && deployment.topology->has_node(NodeId{id})) from = NodeId{id};
  }
  const bool kind_ok = parts.size() >= 2 && parts[0].size() == 1;
  const std::uint8_t kind = parts[0].size() == 1 ? parts[0].data<std::uint8_t>()[0] : 0;
  if (client && kind_ok && kind == kKindStatus) {
    answer_status(identity, parts);
    return;
  }
  if ((!client && !from) || (kind_ok && kind != (client ? kKindClient : kKindNode))) {
    ++stats.dropped_unknown_sender;
    if (rate_limit_ok(last_drop_log))
      log(LogLevel::kWarn,
          "a message from '" + std::string(user_id) + "' of the wrong kind or sender dropped");
    return;
  }
  const std::size_t size = parts.back().size();
  if (size > config.max_message_bytes) {
    ++stats.dropped_oversize;
    if (rate_limit_ok(last_drop_log))
      log(LogLevel::kWarn, "a message of " + std::to_string(size) + " bytes from '" +
                               std::string(user_id) + "' is above max_message_bytes; dropped");
    return;
  }
  if (!kind_ok || parts.size() != (client ? 2u : 3u) || (!client && parts[1].size() != 8)) {
    undecodable(client ? "client request" : "message", DecodeError::kInvalidValue);
    return;
  }
  // What is decoded borrows its payloads from the frame, which lives as
  // long as any of them: a turn's messages from one peer (or one request)
  // share one frame and mostly one fate, so little is held for long.
  // Its owner comes from the record-state pool: one per frame received.
  const auto frame = std::allocate_shared<const zmq::message_t>(
      std::pmr::polymorphic_allocator<zmq::message_t>(record_state_pool()),
      std::move(parts.back()));
  const ByteView body = view_of(*frame);
  if (client) {
    auto decoded = decode<ClientRequestFrame>(body, frame);
    if (!decoded) {
      undecodable("client request", decoded.error());
      return;
    }
    ++stats.client_requests;
    stats.bytes_in += size;
    ClientRequestId id = next_client++;
    clients.emplace(id, PendingClient{identity.to_string(), decoded->id});
    arrivals.push_back(Arrival{NodeId{}, id, std::nullopt, std::move(decoded->request)});
    return;
  }
  if (!admit_nonce(*from, read_be64(view_of(parts[1])))) return;
  ++stats.frames_in;
  stats.bytes_in += size;
  if (auto e = decode_bundle_into(body, frame, bundle)) {
    undecodable("message from " + to_string(*from), *e);
    return;
  }
  for (Message& m : bundle) {
    ++stats.messages_in;
    arrivals.push_back(Arrival{*from, 0, std::move(m), std::nullopt});
  }
}

void ZmqRuntime::Impl::fire_due_timers(const std::atomic<bool>& stop) {
  const auto now = SteadyClock::now();
  while (!timers.empty() && timers.top().deadline <= now && !stop.load(std::memory_order_relaxed)) {
    Timer t = timers.top();
    timers.pop();
    if (pending_timers.erase(t.id) != 0) logic->on_timer(t.id, t.tag);
  }
}

void ZmqRuntime::Impl::deliver_local(const std::atomic<bool>& stop) {
  // Only what is queued now; what these send to self waits a turn.
  for (std::size_t n = local.size(); n > 0 && !stop.load(std::memory_order_relaxed); --n) {
    MessagePtr m = std::move(local.front());
    local.pop_front();
    logic->on_message(config.id, *m);
  }
}

long ZmqRuntime::Impl::poll_timeout_ms() const {
  if (!local.empty()) return 0;
  TimeUs wait = kMaxPollUs;
  if (!timers.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(timers.top().deadline -
                                                                      SteadyClock::now())
                    .count();
    wait = std::clamp<TimeUs>(left, 0, kMaxPollUs);
  }
  return to_ms(wait);
}

void ZmqRuntime::Impl::loop(const std::atomic<bool>& stop) {
  zmq_pollitem_t items[] = {{zap.handle(), 0, ZMQ_POLLIN, 0}, {router.handle(), 0, ZMQ_POLLIN, 0}};
  while (!stop.load()) {
    if (zmq_poll(items, 2, poll_timeout_ms()) < 0) {
      if (zmq_errno() == EINTR) continue;  // a signal; `stop` tells whether to go on
      throw std::runtime_error(std::string("zmq_poll failed: ") + zmq_strerror(zmq_errno()));
    }
    // ZAP first: handshakes in progress wait for it.
    if (items[0].revents & ZMQ_POLLIN) handle_zap();
    // Group commit: everything one turn writes is one fsynced transaction,
    // and nothing it sends or replies leaves before that.
    begin_group();
    if (items[1].revents & ZMQ_POLLIN) handle_router(stop);
    fire_due_timers(stop);
    deliver_local(stop);
    end_group();
  }
}

// A turn's messages, each peer's in the order sent, one peer after another
// in the order first sent to: grouped by a counting sort in scratch vectors.
void ZmqRuntime::Impl::transmit_held() {
  peer_rank.resize(deployment.topology->node_count(), 0);
  for (const auto& [to, m] : held_messages) {
    std::uint32_t& rank = peer_rank[to.value];
    if (rank == 0) {
      held_peers.push_back(to);
      held_ends.push_back(0);
      rank = static_cast<std::uint32_t>(held_peers.size());
    }
    ++held_ends[rank - 1];
  }
  std::size_t start = 0;  // counts become start offsets, then (after placing) ends
  for (std::size_t& n : held_ends) start += std::exchange(n, start);
  held_sorted.resize(held_messages.size());
  for (auto& [to, m] : held_messages)
    held_sorted[held_ends[peer_rank[to.value] - 1]++] = std::move(m);
  held_messages.clear();
  std::size_t begin = 0;
  for (std::size_t k = 0; k < held_peers.size(); ++k) {
    peer_rank[held_peers[k].value] = 0;
    transmit(held_peers[k],
             std::span<const MessagePtr>(held_sorted).subspan(begin, held_ends[k] - begin));
    begin = held_ends[k];
  }
  held_peers.clear();
  held_ends.clear();
  held_sorted.clear();
}

void ZmqRuntime::Impl::begin_group() {
  MHR_ASSERT(!grouping && held_messages.empty() && held_replies.empty());
  store().begin_group();
  grouping = true;
}

void ZmqRuntime::Impl::end_group() {
  MHR_ASSERT(grouping);
  store().end_group();
  grouping = false;
  transmit_held();
  for (auto& [id, r] : held_replies) transmit_reply(id, std::move(r));
  held_replies.clear();
}

void ZmqRuntime::Impl::close() {
  if (closed) return;
  closed = true;
  logic.reset();
  // Sockets linger kCloseFlushMs to flush what is queued, then go.
  dealers.clear();
  router.close();
  zap.close();
  ctx.close();
  store_.reset();
}

ZmqRuntime::ZmqRuntime(const NodeConfig& config, const Deployment& deployment, const NodeKeys& keys)
    : impl_(std::make_unique<Impl>(config, deployment, keys)) {}

ZmqRuntime::~ZmqRuntime() = default;

void ZmqRuntime::run(const LogicFactory& factory, const std::atomic<bool>& stop) {
  Impl& im = *impl_;
  if (im.ran || im.closed) throw std::logic_error("ZmqRuntime::run can be called only once");
  im.ran = true;
  try {
    im.logic = factory(im);
    if (!im.logic) throw std::runtime_error("the logic factory returned nothing");
    im.log(LogLevel::kInfo, "listening on " + im.config.listen);
    im.logic->start();
    im.loop(stop);
  } catch (const std::exception& e) {
    im.log(LogLevel::kError, std::string("stopping: ") + e.what());
    im.close();
    throw;
  }
  im.log(LogLevel::kInfo, "stopped");
  im.close();
}

const RuntimeStats& ZmqRuntime::stats() const {
  return impl_->stats;
}

Env& ZmqRuntime::env() {
  return *impl_;
}

// ---------------------------------------------------------------------------

struct ZmqClient::Impl {
  std::string endpoint;
  zmq::context_t ctx;
  zmq::socket_t socket;
  ClientRequestId next_id = 1;
  std::deque<std::pair<ClientRequestId, ClientReply>> buffered;  // replies not yet asked for

  // One reply from the socket within the deadline.
  bool receive_one(ClientRequestId& id, ClientReply& reply, SteadyClock::time_point deadline);
  // The reply to request `want`, keeping the others for receive();
  // throws std::runtime_error on time-out.
  ClientReply await(ClientRequestId want, TimeUs timeout_us);
};

ZmqClient::ZmqClient(const std::string& endpoint, const std::string& server_curve_z85,
                     const CurveKeyPair& client_keys)
    : impl_(std::make_unique<Impl>()) {
  impl_->endpoint = endpoint;
  CurveKey server = decode_curve_key(server_curve_z85, "the server's CURVE key");
  CurveKey secret = decode_curve_key(client_keys.secret_z85, "the client's secret CURVE key");
  CurveKey pub = curve_public_of(client_keys.secret_z85, "the client's secret CURVE key");
  if (!client_keys.public_z85.empty() &&
      decode_curve_key(client_keys.public_z85, "the client's public CURVE key") != pub)
    throw std::runtime_error("the client's public CURVE key does not match its secret key");
  zmq::socket_t& s = impl_->socket;
  try {
    s = zmq::socket_t(impl_->ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::immediate, false);
    s.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(kMaxMessageBytes) + kWireSlackBytes);
    s.set(zmq::sockopt::reconnect_ivl, 100);
    s.set(zmq::sockopt::reconnect_ivl_max, 5000);
    s.set(zmq::sockopt::heartbeat_ivl, 1000);
    s.set(zmq::sockopt::heartbeat_timeout, 5000);
    s.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server.data(), 32));
    s.set(zmq::sockopt::curve_publickey, zmq::const_buffer(pub.data(), 32));
    s.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(secret.data(), 32));
    s.connect(endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot connect to '" + endpoint + "': " + e.what());
  }
}

ZmqClient::~ZmqClient() = default;

ClientRequestId ZmqClient::send(const ClientRequest& request) {
  ClientRequestId id = impl_->next_id++;
  zmq::message_t kind(&kKindClient, 1);
  const ClientRequestFrame frame{id, request};
  zmq::message_t body = frame_of(frame, encoded_size(frame));
  if (!impl_->socket.send(kind, zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
      !impl_->socket.send(body, zmq::send_flags::dontwait))
    throw std::runtime_error("too many requests queued to '" + impl_->endpoint + "'");
  return id;
}

bool ZmqClient::Impl::receive_one(ClientRequestId& id, ClientReply& reply,
                                  SteadyClock::time_point deadline) {
  for (;;) {
    // Rounded up: a deadline less than a millisecond away must sleep, not spin.
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    zmq_pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&item, 1, std::max<long>(0, static_cast<long>(left)));
    if (rc < 0 && zmq_errno() != EINTR)
      throw std::runtime_error(std::string("zmq_poll failed: ") + zmq_strerror(zmq_errno()));
    if (rc > 0) {
      zmq::message_t first;
      while (socket.recv(first, zmq::recv_flags::dontwait)) {
        if (first.more()) {  // not a reply frame: skip all of it
          std::vector<zmq::message_t> rest;
          receive_rest(socket, first, rest);
          continue;
        }
        auto decoded = decode<ClientReplyFrame>(view_of(first));
        if (!decoded) continue;
        id = decoded->id;
        reply = std::move(decoded.value().reply);
        return true;
      }
    }
    if (SteadyClock::now() >= deadline) return false;
  }
}

bool ZmqClient::receive(ClientRequestId& id, ClientReply& reply, TimeUs timeout_us) {
  if (!impl_->buffered.empty()) {
    id = impl_->buffered.front().first;
    reply = std::move(impl_->buffered.front().second);
    impl_->buffered.pop_front();
    return true;
  }
  auto deadline = SteadyClock::now() + std::chrono::microseconds(std::max<TimeUs>(timeout_us, 0));
  return impl_->receive_one(id, reply, deadline);
}

void ZmqClient::wait_any(const std::vector<ZmqClient*>& clients, TimeUs timeout_us) {
  std::vector<zmq_pollitem_t> items;
  items.reserve(clients.size());
  for (ZmqClient* c : clients) {
    if (!c->impl_->buffered.empty()) return;
    items.push_back({c->impl_->socket.handle(), 0, ZMQ_POLLIN, 0});
  }
  const long timeout_ms = static_cast<long>((std::max<TimeUs>(timeout_us, 0) + 999) / 1000);
  if (zmq_poll(items.data(), static_cast<int>(items.size()), timeout_ms) < 0 &&
      zmq_errno() != EINTR)
    throw std::runtime_error(std::string("zmq_poll failed: ") + zmq_strerror(zmq_errno()));
}

ClientReply ZmqClient::call(const ClientRequest& request, TimeUs timeout_us) {
  return impl_->await(send(request), timeout_us);
}

std::string ZmqClient::work_in_flight(TimeUs timeout_us) {
  ClientRequestId id = impl_->next_id++;
  zmq::message_t kind(&kKindStatus, 1);
  Bytes id_bytes;
  append_be64(id_bytes, id);
  zmq::message_t body(id_bytes.data(), id_bytes.size());
  if (!impl_->socket.send(kind, zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
      !impl_->socket.send(body, zmq::send_flags::dontwait))
    throw std::runtime_error("too many requests queued to '" + impl_->endpoint + "'");
  return impl_->await(id, timeout_us).detail;
}

ClientReply ZmqClient::Impl::await(ClientRequestId want, TimeUs timeout_us) {
  auto deadline = SteadyClock::now() + std::chrono::microseconds(std::max<TimeUs>(timeout_us, 0));
  ClientRequestId id = 0;
  ClientReply reply;
  while (receive_one(id, reply, deadline)) {
    if (id == want) return reply;
    buffered.emplace_back(id, std::move(reply));
  }
  throw std::runtime_error("no reply from '" + endpoint + "' within " +
                           std::to_string(timeout_us / kUsPerMs) + " ms");
}

std::string runtime_stats_json(const RuntimeStats& s) {
  // Hand-written: common/ has no JSON library, and the shape is flat.
  std::string out = "{\n";
  auto field = [&](std::string_view k, std::uint64_t v) {
    out += "  \"" + std::string(k) + "\": " + std::to_string(v) + ",\n";
  };
  field("messages_in", s.messages_in);
  field("messages_out", s.messages_out);
  field("bytes_in", s.bytes_in);
  field("bytes_out", s.bytes_out);
  field("frames_in", s.frames_in);
  field("frames_out", s.frames_out);
  field("out_intra", s.out_intra);
  field("out_inter", s.out_inter);
  field("dropped_oversize", s.dropped_oversize);
  field("dropped_undecodable", s.dropped_undecodable);
  field("dropped_unknown_sender", s.dropped_unknown_sender);
  field("dropped_queue_full", s.dropped_queue_full);
  field("dropped_replayed", s.dropped_replayed);
  field("dropped_stale", s.dropped_stale);
  field("client_requests", s.client_requests);
  field("auth_refused", s.auth_refused);
  field("signature_checks", s.signature_checks);
  for (std::size_t i = 0; i < kMessageTypeCount; ++i)
    field("out." + std::string(message_type_name(i)), s.out_by_type[i]);
  for (std::size_t i = 0; i < kCounterCount; ++i)
    field("counter." + std::string(counter_name(static_cast<Counter>(i))),
          static_cast<std::uint64_t>(std::max<std::int64_t>(0, s.counters[i])));
  out.erase(out.size() - 2);  // the last ",\n"
  out += "\n}\n";
  return out;
}

}  // namespace mhr
