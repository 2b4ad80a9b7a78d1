// SIGKILL under load: whatever a node acknowledged survives its death, a
// restarted node catches up from its peers, and the stores pass every
// checker afterwards.
#include <doctest/doctest.h>

#include <unistd.h>

#include <sys/wait.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <zmq.hpp>

#include "common/blob.hpp"
#include "common/chain_store.hpp"
#include "common/client_codec.hpp"
#include "common/identity.hpp"
#include "common/key_wrap.hpp"
#include "common/net/zmq_runtime.hpp"
#include "tests/test_dirs.hpp"
#include "tools/launch/cluster.hpp"
#include "tools/sim/checkers.hpp"
#include "tools/sim/workload.hpp"

using namespace mhr;

namespace {

const char* kScenario = R"(
duration: 60s
topology: {networks: 2, record_nodes: 3}
protocol: {retry_timeout: 200ms, retry_max_backoff: 1s}
workload: {users: 1, record_rate: 1}
)";

// The same with four consensus replicas per network (docs/CONSENSUS.md).
const char* kGroupScenario = R"(
duration: 60s
topology: {networks: 2, record_nodes: 3, consensus_nodes: 4}
protocol: {retry_timeout: 200ms, retry_max_backoff: 1s}
workload: {users: 1, record_rate: 1}
)";

// A small deployment of real processes with one client per record node.
class LiveCluster {
 public:
  explicit LiveCluster(const std::string& name, const char* scenario = kScenario)
      : scenario_(load_scenario_string(scenario, name + ".yaml")),
        dir_{options(name).dir},
        cluster_(scenario_, protocol_params(scenario_, ScenarioMode::kBroadcast), options(name)) {
    cluster_.start_all();
    cluster_.wait_ready(30 * kUsPerSecond);
  }

  static ClusterOptions options(const std::string& name) {
    ClusterOptions o;
    o.dir = std::filesystem::temp_directory_path().string() + "/mhr-process-" + name + "-" +
            std::to_string(::getpid());
    o.bin_dir = MHR_BIN_DIR;
    return o;
  }

  NodeId node(const char* name) const { return *scenario_.layout.find_node(name); }
  ZmqClient& client(NodeId n) {
    auto& c = clients_[n.value];
    if (!c) {
      const NodeAddress& a = cluster_.deployment().address.at(n.value);
      c = std::make_unique<ZmqClient>(a.endpoint, a.curve_z85, cluster_.client_keys());
    }
    return *c;
  }
  void forget_client(NodeId n) { clients_.erase(n.value); }
  ClientReply call(NodeId n, const ClientRequest& r) {
    return client(n).call(r, 20 * kUsPerSecond);
  }

  // Patient i (a demo key derived from its index) and its user id.
  UserId user(std::uint32_t i) {
    auto signer = patient_signer(i, scenario_.protocol.crypto);
    const UserId u = user_id_of(signer->public_key());
    patients_[u] = std::move(signer);
    return u;
  }
  // A request signed by the patient, or by the launcher's staff key.
  ClientRequest as_patient(NodeId n, ClientRequest r) {
    sign_request(r, *patients_.at(request_user(r)), n, wall_clock_us(), ++nonce_);
    return r;
  }
  ClientRequest as_staff(NodeId n, ClientRequest r) {
    sign_request(r, cluster_.client_signer(), n, wall_clock_us(), ++nonce_);
    return r;
  }

  // Registers and waits for the confirmation.
  void register_user(NodeId n, const UserId& u) {
    ClientReply r = call(n, as_patient(n, RegisterUserRequest{u, {}}));
    REQUIRE_MESSAGE(r.status == ReplyStatus::kOk, r.detail);
  }

  Cluster& cluster() { return cluster_; }
  const std::string& dir() const { return dir_.path; }

  // Every record of `user` that node `n` returns to a read.
  std::set<Hash> read(NodeId n, const UserId& user) {
    std::set<Hash> out;
    for (int attempt = 0; attempt < 200; ++attempt) {
      try {
        ClientReply r = client(n).call(as_patient(n, ReadUserRequest{user, {}}), 2 * kUsPerSecond);
        if (r.status == ReplyStatus::kOk) {
          for (const Record& rec : r.records) out.insert(record_hash(rec));
          return out;
        }
      } catch (const std::exception&) {
        forget_client(n);  // the node may still be starting
      }
    }
    return out;
  }

  // The store checkers, on a cluster that has settled first (bounded), as
  // the simulator drains before its checks: a block committed just before
  // would otherwise be caught between its replica and its members.
  CheckResult check() {
    for (int i = 0; i < 100 && !cluster_.work_in_flight(2 * kUsPerSecond).empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cluster_.stop_all();
    std::vector<std::unique_ptr<Store>> stores;
    for (std::size_t i = 0; i < cluster_.size(); ++i)
      stores.push_back(std::move(
          open_lmdb_store(cluster_.data_dir(NodeId{static_cast<std::uint32_t>(i)})).value()));
    CheckInput in{*cluster_.deployment().topology,
                  [&](NodeId n) -> const Store& { return *stores.at(n.value); },
                  [&](NodeId n) { return cluster_.name(n); },
                  {}};
    return check_stores(in);
  }

 private:
  // The deployment's directory goes once its processes have stopped:
  // declared before cluster_, it is destroyed after it.
  struct RemovedLast {
    std::string path;
    ~RemovedLast() { mhr::test::remove_test_dir(path); }
  };

  Scenario scenario_;
  RemovedLast dir_;
  Cluster cluster_;
  std::map<std::uint32_t, std::unique_ptr<ZmqClient>> clients_;
  std::map<UserId, std::unique_ptr<Signer>> patients_;
  std::uint64_t nonce_ = 0;
};

SubmitRecordRequest record_for(const UserId& u, int i) {
  std::string body = "{\"resourceType\":\"Observation\",\"n\":" + std::to_string(i) + "}";
  static const AeadKey key = data_key_of(SecretSeed{sha256(as_bytes("test data key"))});
  return {u,
          "Observation",
          Category::kMedical,
          SharedBytes(seal_payload(key, u, as_bytes(body))),
          std::nullopt,
          std::nullopt,
          {}};
}

// Submits `count` records through `origin`, pipelined; returns the hashes
// the node acknowledged.
std::set<Hash> submit(LiveCluster& c, NodeId origin, const UserId& u, int from, int count,
                      const std::function<void(int)>& between = {}, int wait_s = 60) {
  std::set<Hash> acked;
  ZmqClient& client = c.client(origin);
  std::set<ClientRequestId> waiting;
  for (int i = from; i < from + count; ++i) {
    waiting.insert(client.send(c.as_staff(origin, record_for(u, i))));
    if (between) between(i);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
  while (!waiting.empty() && std::chrono::steady_clock::now() < deadline) {
    ClientRequestId id = 0;
    ClientReply reply;
    if (!client.receive(id, reply, 100 * kUsPerMs)) continue;
    waiting.erase(id);
    if (reply.status == ReplyStatus::kOk && reply.entry_hash) acked.insert(*reply.entry_hash);
    if (reply.status != ReplyStatus::kOk) MESSAGE("not acknowledged: " << reply.detail);
  }
  return acked;
}

}  // namespace

TEST_CASE(
    "process: SIGKILL of a holder, the consensus node and the index node under load loses nothing "
    "acknowledged") {
  LiveCluster c("kill");
  const UserId u = c.user(1);
  const NodeId origin = c.node("net0.r0"), holder = c.node("net0.r2"), far = c.node("net1.r1");
  c.register_user(origin, u);
  c.register_user(holder, u);
  c.register_user(far, u);
  const NodeId consensus = c.node("net0.c0"), index = c.node("net0.i");

  std::set<Hash> acked = submit(c, origin, u, 0, 150, [&](int i) {
    if (i == 20) c.cluster().kill(holder);
    if (i == 50) c.cluster().start(holder);
    if (i == 70) c.cluster().kill(consensus);
    if (i == 80) c.cluster().start(consensus);
    if (i == 100) c.cluster().kill(index);
    if (i == 110) c.cluster().start(index);
  });
  MESSAGE("acknowledged " << acked.size() << " of 150");
  CHECK(acked.size() >= 100);  // those sent while the consensus node was dead may time out

  // Every acknowledged record is on every holder, in both networks. An
  // acknowledgement means durable on the holders of the origin network; the
  // other network gets it through the index nodes' retried hand-offs (one
  // of them was just killed), so it is given time.
  for (NodeId n : {origin, holder, far}) {
    std::set<Hash> held = c.read(n, u);
    for (int wait = 0; wait < 300 && n == far &&
                       !std::includes(held.begin(), held.end(), acked.begin(), acked.end());
         ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      held = c.read(n, u);
    }
    for (const Hash& h : acked)
      CHECK_MESSAGE(held.contains(h), "missing on " << c.cluster().name(n));
  }
  MESSAGE("read back");
  CheckResult result = c.check();
  MESSAGE("checked");
  std::string all;
  for (const auto& m : result.messages) all += m + "\n";
  INFO(all);
  CHECK(result.violations == 0);
}

TEST_CASE(
    "process: SIGKILL of the leading consensus replica under load: commits resume, nothing "
    "acknowledged is lost") {
  LiveCluster c("group", kGroupScenario);
  const UserId u = c.user(4);
  const NodeId origin = c.node("net0.r0"), holder = c.node("net0.r1"), far = c.node("net1.r2");
  c.register_user(origin, u);
  c.register_user(holder, u);
  c.register_user(far, u);
  // net0.c0 leads view 0; killed for good, the others change view.
  std::set<Hash> acked = submit(c, origin, u, 0, 150, [&](int i) {
    if (i == 40) c.cluster().kill(c.node("net0.c0"));
  });
  MESSAGE("acknowledged " << acked.size() << " of 150");
  // The group goes on: at most a few time out around the kill, and the
  // 110 written after it commit.
  CHECK(acked.size() >= 140);
  for (NodeId n : {origin, holder, far}) {
    std::set<Hash> held = c.read(n, u);
    for (int wait = 0; wait < 300 && n == far &&
                       !std::includes(held.begin(), held.end(), acked.begin(), acked.end());
         ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      held = c.read(n, u);
    }
    for (const Hash& h : acked)
      CHECK_MESSAGE(held.contains(h), "missing on " << c.cluster().name(n));
  }
  // The later records came in blocks certified in a later view.
  ClientReply r = c.call(origin, c.as_patient(origin, ReadUserRequest{u, {}}));
  std::uint64_t view = 0;
  for (const SignedHeader& sh : r.headers)
    if (sh.header.network == NetworkId{0}) view = std::max(view, sh.view);
  CHECK(view > 0);
  CheckResult result = c.check();
  std::string all;
  for (const auto& m : result.messages) all += m + "\n";
  INFO(all);
  CHECK(result.violations == 0);
}

TEST_CASE(
    "process: a node down during writes catches up after restart, verifying what it receives") {
  LiveCluster c("catchup");
  const UserId u = c.user(2);
  const NodeId origin = c.node("net1.r0"), late = c.node("net1.r1");
  c.register_user(origin, u);
  c.register_user(late, u);
  c.cluster().kill(late);
  std::set<Hash> acked = submit(c, origin, u, 0, 40, {}, 2);
  CHECK(acked.empty());  // a holder is down: nothing is durable on all holders yet
  c.cluster().start(late);
  // The acknowledgements come once the late node has caught up; reading it
  // then shows every record.
  std::set<Hash> held;
  for (int i = 0; i < 100 && held.size() < 40; ++i) {
    held = c.read(late, u);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(held.size() == 40);
  CHECK(c.read(origin, u) == held);
  CheckResult result = c.check();
  CHECK(result.violations == 0);
}

TEST_CASE(
    "process: an unknown key cannot connect; malformed input is dropped and the node keeps "
    "serving") {
  LiveCluster c("refuse");
  const NodeId n = c.node("net0.r1");
  const NodeAddress& a = c.cluster().deployment().address.at(n.value);

  ZmqClient stranger(a.endpoint, a.curve_z85, CurveKeyPair::generate());
  CHECK_THROWS(stranger.call(ReadUserRequest{c.user(3), {}}, 1 * kUsPerSecond));

  {  // A registered client that sends garbage, then a frame of the wrong kind.
    zmq::context_t ctx;
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    Bytes server(32), pub(32), sec(32);
    zmq_z85_decode(server.data(), a.curve_z85.c_str());
    zmq_z85_decode(pub.data(), c.cluster().client_keys().public_z85.c_str());
    zmq_z85_decode(sec.data(), c.cluster().client_keys().secret_z85.c_str());
    s.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server.data(), 32));
    s.set(zmq::sockopt::curve_publickey, zmq::const_buffer(pub.data(), 32));
    s.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(sec.data(), 32));
    s.set(zmq::sockopt::linger, 1000);
    s.connect(a.endpoint);
    const std::string garbage(300, '\xff');
    s.send(zmq::buffer(std::string("C")), zmq::send_flags::sndmore);
    s.send(zmq::buffer(garbage));
    s.send(zmq::buffer(std::string("N")), zmq::send_flags::sndmore);  // a client posing as a node
    s.send(zmq::buffer(garbage));
    s.send(zmq::buffer(garbage));  // a single frame of nonsense
  }
  const UserId u = c.user(3);
  ClientReply r = c.call(n, c.as_patient(n, ReadUserRequest{u, {}}));
  CHECK(r.status == ReplyStatus::kRejected);  // served: the user is simply not registered
  c.register_user(n, u);
  CHECK(c.call(n, c.as_patient(n, ReadUserRequest{u, {}})).status == ReplyStatus::kOk);
}

namespace {
// Runs `mhr ARGS` against the cluster; returns its exit code and output.
std::pair<int, std::string> mhr_cli(LiveCluster& c, const std::string& args) {
  const std::string out = c.dir() + "/cli.out";
  const std::string cmd = std::string(MHR_BIN_DIR) + "/mhr " + args + " --topology " + c.dir() +
                          "/topology.yaml --client-key " + c.dir() + "/client.key >" + out +
                          " 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  return {WEXITSTATUS(rc), text};
}
}  // namespace

TEST_CASE("process: mhr register, submit and read against running nodes") {
  LiveCluster c("cli");
  auto [rc1, reg] = mhr_cli(c, "register --node net0.r0 --user alice");
  CHECK_MESSAGE(rc1 == 0, reg);
  auto [rc2, sub] =
      mhr_cli(c, "submit --node net0.r0 --user alice --type Observation --text '{\"v\":1}'");
  CHECK_MESSAGE(rc2 == 0, sub);
  auto [rc3, sub2] =
      mhr_cli(c, "submit --node net0.r0 --user alice --type Claim --category billing --text x");
  CHECK_MESSAGE(rc3 == 0, sub2);
  auto [rc4, read] = mhr_cli(c, "read --node net0.r0 --user alice --json");
  CHECK(rc4 == 0);
  CHECK(std::count(read.begin(), read.end(), '\n') == 2);
  CHECK(read.find("\"category\":\"billing\"") != std::string::npos);
  // Not registered there: refused, with a reason, and a non-zero exit.
  auto [rc5, elsewhere] = mhr_cli(c, "read --node net1.r0 --user alice");
  CHECK(rc5 == 1);
  CHECK(elsewhere.find("not registered") != std::string::npos);
  auto [rc6, bad] = mhr_cli(c, "read --node net0.c0 --user alice");
  CHECK(rc6 == 1);
  CHECK(bad.find("consensus node") != std::string::npos);
  // Every node says whether it has work in flight; the writes settle.
  std::pair<int, std::string> status;
  for (int i = 0; i < 50; ++i) {
    status = mhr_cli(c, "status");
    if (status.first == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK_MESSAGE(status.first == 0, status.second);
  CHECK(status.second.find("net0.c0: idle\n") != std::string::npos);
  CHECK(status.second.find("net1.i: idle\n") != std::string::npos);
  auto [rc7, one] = mhr_cli(c, "status --node net0.r0");
  CHECK(rc7 == 0);
  CHECK(one == "net0.r0: idle\n");
  c.cluster().stop(c.node("net1.r2"));
  auto [rc8, down] = mhr_cli(c, "status --node net1.r2");
  CHECK(rc8 == 1);
  CHECK(down.find("net1.r2: no answer") != std::string::npos);
}

namespace {
// The node stores (data.mdb files) under `dir`, and those that hold `marker`.
std::pair<int, std::vector<std::string>> stores_holding(const std::string& dir,
                                                        const std::string& marker) {
  std::pair<int, std::vector<std::string>> out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.path().filename() != "data.mdb") continue;
    ++out.first;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    if (bytes.find(marker) != std::string::npos) out.second.push_back(entry.path());
  }
  return out;
}

// Records listed, leaving out the patient's own acts (key shares, grants).
int lines(const std::string& text) {
  int n = 0;
  std::size_t at = 0;
  for (std::size_t end; (end = text.find('\n', at)) != std::string::npos; at = end + 1)
    n += text.substr(at, end - at).find("mhr/patient-act") == std::string::npos;
  return n;
}
}  // namespace

TEST_CASE("process: mhr grant, read, revoke and audit: consent honoured in another network") {
  LiveCluster c("consent");
  auto run = [&](const std::string& args) {
    auto [rc, out] = mhr_cli(c, args);
    INFO("mhr " << args << "\n" << out);
    REQUIRE(rc == 0);
    return out;
  };
  run("register --node net0.r0 --user alice");
  run("submit --node net0.r0 --user alice --type Observation --text 'secret-glucose-7.2'");
  run("submit --node net0.r0 --user alice --type Claim --category billing --text x");
  CHECK(run("read --node net0.r0 --user alice --json").find("\"payload\":\"secret-glucose-7.2\"") !=
        std::string::npos);                     // the institution that wrote it opens it
  run("register --node net1.r0 --user alice");  // migration: the history follows
  std::string mine;
  for (int i = 0; i < 100 && lines(mine) < 2; ++i) {
    mine = run("read --node net1.r0 --user alice --as-patient --json");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(lines(mine) == 2);
  // The patient checks every record against headers its networks signed.
  const std::string proven = run("get --node net1.r0 --user alice --as-patient --json");
  CHECK(proven.find("\"proven\":false") == std::string::npos);
  CHECK(std::count(proven.begin(), proven.end(), '\n') >= 4);  // 2 records and 2 key shares
  CHECK(proven.find("\"payload\":\"secret-glucose-7.2\"") != std::string::npos);

  // The launcher's key is staff at net1.r0, which wrote nothing for alice.
  CHECK(lines(run("read --node net1.r0 --user alice --json")) == 0);
  const std::string granted =
      run("grant --node net0.r0 --user alice --grantee net1.r0 --categories medical");
  const std::string id = granted.substr(granted.find("grant ") + 6, 64);
  std::string read;
  for (int i = 0; i < 50 && lines(read) < 1; ++i) {  // the grant travels to network 1
    read = run("read --node net1.r0 --user alice --json");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(lines(read) == 1);
  CHECK(read.find("\"category\":\"medical\"") != std::string::npos);
  // The grant carried the data key sealed for network 1's institution.
  CHECK(read.find("\"payload\":\"secret-glucose-7.2\"") != std::string::npos);
  run("revoke --node net1.r0 --user alice --grant " + id);
  CHECK(lines(run("read --node net1.r0 --user alice --json")) == 0);
  const std::string audit = run("audit --node net1.r0 --user alice --as-patient --json");
  CHECK(audit.find("\"action\":\"read\"") != std::string::npos);
  CHECK(audit.find("\"action\":\"revoke\"") != std::string::npos);
  // Acting as a patient takes that patient's key.
  const std::string alice_id =
      user_id_of(make_signer(CryptoMode::kReal, patient_seed("alice"))->public_key()).hex();
  auto [rc, refused] = mhr_cli(c, "audit --node net1.r0 --as-patient --user " + alice_id +
                                      " --patient-key " + c.dir() + "/client.key");
  CHECK(rc == 1);
  CHECK(refused.find("is not the key of user") != std::string::npos);

  // Nothing readable lies on any node's disk.
  c.cluster().stop_all();
  const auto [stores, holding] = stores_holding(c.dir() + "/nodes", "secret-glucose");
  CHECK(holding.empty());
  CHECK(stores == static_cast<int>(c.cluster().size()));
}

TEST_CASE("process: mhr submit --blob and get --blob: an image follows its patient") {
  LiveCluster c("blob");
  auto run = [&](const std::string& args) {
    auto [rc, out] = mhr_cli(c, args);
    INFO("mhr " << args << "\n" << out);
    REQUIRE(rc == 0);
    return out;
  };
  const std::string image = c.dir() + "/scan.img";
  std::string content;
  for (int i = 0; content.size() < 700'000; ++i)
    content += "MHR-SECRET-IMAGE " + std::to_string(i * 7919) + "\n";
  std::ofstream(image, std::ios::binary) << content;

  run("register --node net0.r0 --user bob");
  const std::string submitted =
      run("submit --node net0.r0 --user bob --type image/png --blob " + image);
  const auto at = submitted.find("object ");
  REQUIRE(at != std::string::npos);
  const std::string id = submitted.substr(at + 7, 64);
  CHECK(run("read --node net0.r0 --user bob --json").find("\"object\":{\"bytes\"") !=
        std::string::npos);

  run("register --node net1.r0 --user bob");  // the object moves with the history
  const std::string copy = c.dir() + "/scan.copy";
  int rc = 1;
  std::string out;
  for (int i = 0; i < 100 && rc != 0; ++i) {
    std::tie(rc, out) =
        mhr_cli(c, "get --node net1.r0 --user bob --as-patient --blob " + id + " --out " + copy);
    if (rc != 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(out.find("chunks checked") != std::string::npos);
  std::ifstream in(copy, std::ios::binary);
  CHECK(std::string((std::istreambuf_iterator<char>(in)), {}) == content);

  // Bad input gets a clear refusal and a non-zero exit.
  auto [rc_id, bad_id] =
      mhr_cli(c, "get --node net1.r0 --user bob --as-patient --blob xyz --out " + copy);
  CHECK(rc_id == 1);
  CHECK(bad_id.find("64 hex digits") != std::string::npos);
  const std::string huge = c.dir() + "/huge.img";
  { std::ofstream(huge).close(); }
  std::filesystem::resize_file(huge, 65ull << 20);
  auto [rc_big, big] =
      mhr_cli(c, "submit --node net0.r0 --user bob --type image/png --blob " + huge);
  CHECK(rc_big == 1);
  CHECK(big.find("max_blob_mb") != std::string::npos);

  // Only ciphertext on disk.
  c.cluster().stop_all();
  const auto [stores, holding] = stores_holding(c.dir() + "/nodes", "MHR-SECRET-IMAGE");
  CHECK(holding.empty());
  CHECK(stores == static_cast<int>(c.cluster().size()));

  // A chunk changed on a stopped node's disk is found by mhr verify.
  const std::string data = c.cluster().data_dir(c.node("net1.r0"));
  const std::string verify_cmd = std::string(MHR_BIN_DIR) + "/mhr verify --data " + data +
                                 " --topology " + c.dir() + "/topology.yaml >" + c.dir() +
                                 "/verify.out 2>&1";
  REQUIRE(WEXITSTATUS(std::system(verify_cmd.c_str())) == 0);
  {
    auto store = open_lmdb_store(data).value();
    const Hash blob = *Hash::parse_hex(id);
    REQUIRE(store->get(Table::kBlobs, blob_chunk_key(blob, 1)));
    WriteBatch b;
    b.put(Table::kBlobs, blob_chunk_key(blob, 1), Bytes(kBlobChunkBytes, 0x42));
    store->write(b);
  }
  CHECK(WEXITSTATUS(std::system(verify_cmd.c_str())) == 1);
  std::ifstream report(c.dir() + "/verify.out");
  CHECK(std::string((std::istreambuf_iterator<char>(report)), {}).find("chunk") !=
        std::string::npos);
}

TEST_CASE("process: a node says what work it has in flight until its records commit") {
  LiveCluster c("status");
  const UserId u = c.user(7);
  const NodeId origin = c.node("net0.r0"), consensus = c.node("net0.c0");
  c.register_user(origin, u);
  c.register_user(c.node("net1.r0"), u);
  // Registrations settle (the index nodes learn them) before the test looks.
  auto settled = [&](int polls) {
    std::vector<std::string> busy;
    for (int i = 0; i < polls; ++i) {
      busy = c.cluster().work_in_flight(2 * kUsPerSecond);
      if (busy.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return busy;
  };
  std::vector<std::string> busy = settled(100);
  REQUIRE_MESSAGE(busy.empty(), busy.front());

  // With its consensus node down, the record cannot commit: the origin says so.
  c.cluster().stop(consensus);
  ZmqClient& client = c.client(origin);
  const ClientRequestId sent = client.send(c.as_staff(origin, record_for(u, 1)));
  std::string origin_work;
  for (int i = 0; i < 50 && origin_work.empty(); ++i) {
    for (const std::string& line : c.cluster().work_in_flight(2 * kUsPerSecond))
      if (line.rfind("net0.r0: ", 0) == 0) origin_work = line;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(origin_work == "net0.r0: 1 records, 0 registrations, 0 history syncs pending");

  // Back up, the record commits, reaches the other network, and all is idle.
  c.cluster().start(consensus);
  ClientRequestId id = 0;
  ClientReply reply;
  REQUIRE(client.receive(id, reply, 30 * kUsPerSecond));
  CHECK(id == sent);
  CHECK_MESSAGE(reply.status == ReplyStatus::kOk, reply.detail);
  busy = settled(100);
  CHECK_MESSAGE(busy.empty(), (busy.empty() ? "" : busy.front()));
  CHECK(c.read(c.node("net1.r0"), u).size() == 1);
  CHECK(c.check().violations == 0);
}
