// Deployment files: key files (0600, refused when others can read them),
// topology files (shared by every node of a deployment) and node files (one
// node's own configuration). Every file goes through ConfigNode, so every
// error names file, line and key.
#include "common/net/deployment.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <yaml-cpp/yaml.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "common/blob.hpp"
#include "common/config.hpp"
#include "common/crypto.hpp"

namespace mhr {

namespace {

constexpr std::size_t kZ85KeyChars = 40;  // a 32-byte CURVE key in Z85

std::string errno_text(int err) {
  return err ? std::strerror(err) : "unknown error";
}

// True when `text` is a well-formed Z85 encoding of a 32-byte key.
bool valid_z85_key(const std::string& text) {
  if (text.size() != kZ85KeyChars) return false;
  std::array<std::uint8_t, 32> raw{};
  return zmq_z85_decode(raw.data(), text.c_str()) != nullptr;
}

// A Z85 CURVE key at node n, or a ConfigError saying what is wrong with it.
std::string z85_key(const ConfigNode& n) {
  std::string s = n.as_string();
  if (s.size() != kZ85KeyChars)
    n.fail("expected a CURVE key in Z85 (40 characters), got " + std::to_string(s.size()) +
           " characters");
  if (!valid_z85_key(s)) n.fail("not a valid Z85 CURVE key");
  return s;
}

// Durations written the way ConfigNode::as_duration_us reads them back exactly.
std::string format_duration(TimeUs us) {
  struct Unit {
    TimeUs factor;
    const char* suffix;
  };
  static constexpr Unit kUnits[] = {
      {3600 * kUsPerSecond, "h"}, {60 * kUsPerSecond, "m"}, {kUsPerSecond, "s"}, {kUsPerMs, "ms"}};
  if (us > 0)
    for (const Unit& u : kUnits)
      if (us % u.factor == 0) return std::to_string(us / u.factor) + u.suffix;
  return std::to_string(us) + "us";
}

std::string format_size(std::uint64_t bytes) {
  if (bytes > 0 && bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + "GiB";
  if (bytes > 0 && bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
  if (bytes > 0 && bytes % (1ull << 10) == 0) return std::to_string(bytes >> 10) + "KiB";
  return std::to_string(bytes);
}

bool valid_endpoint(const std::string& e) {
  const auto sep = e.find("://");
  if (sep == std::string::npos || sep == 0 || sep + 3 >= e.size()) return false;
  const std::string transport = e.substr(0, sep);
  return transport == "tcp" || transport == "ipc" || transport == "inproc";
}

std::string endpoint_at(const ConfigNode& n) {
  std::string s = n.as_string();
  if (!valid_endpoint(s))
    n.fail(
        "expected a ZeroMQ endpoint like tcp://10.0.0.5:7001 or ipc:///run/mhr/node.sock, got '" +
        s + "'");
  return s;
}

std::string nonempty_string(const ConfigNode& n) {
  std::string s = n.as_string();
  if (s.empty()) n.fail("must not be empty");
  return s;
}

// Writes `text` to a new file with the given mode; refuses to replace an
// existing file when `exclusive`. The mode is set at creation, so the file
// is never more readable than `mode`, not even for an instant.
void write_new_file(const std::string& path, const std::string& text, mode_t mode, bool exclusive) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
  flags |= exclusive ? O_EXCL : O_TRUNC;
  const int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST)
      throw std::runtime_error(path +
                               ": file exists; refusing to overwrite it (move it away first)");
    throw std::runtime_error(path + ": cannot create file: " + errno_text(err));
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      if (exclusive) ::unlink(path.c_str());
      throw std::runtime_error(path + ": cannot write file: " + errno_text(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    if (exclusive) ::unlink(path.c_str());
    throw std::runtime_error(path + ": cannot write file: " + errno_text(err));
  }
}

std::string emit(const YAML::Emitter& out) {
  if (!out.good()) throw std::runtime_error("cannot format YAML: " + out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

// Resolves `p` against the directory of `file` unless it is absolute.
std::string resolve_against(const std::string& file, const std::string& p) {
  std::filesystem::path path(p);
  if (path.is_absolute()) return path.lexically_normal().string();
  const std::filesystem::path dir = std::filesystem::path(file).parent_path();
  if (dir.empty()) return path.lexically_normal().string();
  return (dir / path).lexically_normal().string();
}

// For a check between two keys of a map, one of which may be defaulted: the
// first of them that is present, so the error points at a line in the file.
ConfigNode present(const ConfigNode& map, std::string_view first, std::string_view second) {
  if (auto n = map.optional(first)) return *n;
  if (auto n = map.optional(second)) return *n;
  return map;
}

}  // namespace

// ---------------------------------------------------------------- keys

std::string z85_curve_key(const std::array<std::uint8_t, 32>& raw) {
  char z85[41];
  zmq_z85_encode(z85, raw.data(), raw.size());
  return z85;
}

CurveKeyPair CurveKeyPair::generate() {
  char pub[kZ85KeyChars + 1] = {};
  char sec[kZ85KeyChars + 1] = {};
  if (zmq_curve_keypair(pub, sec) != 0)
    throw std::runtime_error(std::string("cannot generate a CURVE key pair: ") +
                             zmq_strerror(zmq_errno()) + " (is libzmq built with CURVE support?)");
  CurveKeyPair out{pub, sec};
  std::memset(sec, 0, sizeof sec);
  return out;
}

NodeKeys NodeKeys::generate() {
  NodeKeys keys;
  secure_random(keys.sign_seed.bytes);
  keys.curve = CurveKeyPair::generate();
  return keys;
}

void write_key_file(const std::string& path, const NodeKeys& keys) {
  const PublicKey sign_public = KeyPair::from_seed(keys.sign_seed).public_key();
  YAML::Emitter out;
  out << YAML::Comment(
      "MHR chain node keys. SECRET: keep this file mode 0600 and back it up offline.");
  out << YAML::Newline;
  out << YAML::Comment("sign key (public): " + sign_public.hex());
  out << YAML::BeginMap;
  out << YAML::Key << "sign_seed" << YAML::Value << keys.sign_seed.hex();
  out << YAML::Key << "curve_public" << YAML::Value << YAML::DoubleQuoted << keys.curve.public_z85;
  out << YAML::Key << "curve_secret" << YAML::Value << YAML::DoubleQuoted << keys.curve.secret_z85;
  out << YAML::EndMap;
  write_new_file(path, emit(out), S_IRUSR | S_IWUSR, /*exclusive=*/true);
}

NodeKeys load_key_file(const std::string& path) {
  // Open once, check the mode of what was opened and read from it: no window
  // between the check and the read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ConfigError(path, 0, 0, "", "cannot open key file: " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw ConfigError(path, 0, 0, "", "cannot stat key file: " + errno_text(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw ConfigError(path, 0, 0, "", "the key file is not a regular file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw ConfigError(path, 0, 0, "",
                      std::string("the key file is accessible by group or others (mode ") + mode +
                          "); it holds secret keys: run 'chmod 600 " + path + "'");
  }
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw ConfigError(path, 0, 0, "", "cannot read key file: " + errno_text(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > (1u << 20)) {
      ::close(fd);
      throw ConfigError(path, 0, 0, "", "the key file is too large to be a key file");
    }
  }
  ::close(fd);

  const ConfigNode root = ConfigNode::load_string(text, path);
  if (!root.is_map())
    root.fail("expected a key file (a map with sign_seed, curve_public, curve_secret)");
  root.allow_only({"sign_seed", "curve_public", "curve_secret"});
  NodeKeys keys;
  {
    const ConfigNode n = root.required("sign_seed");
    const std::string s = n.as_string();
    auto seed = FixedBytes<32>::parse_hex(s);
    if (!seed)
      n.fail("expected the Ed25519 seed as 64 hex digits, got " + std::to_string(s.size()) +
             " characters" + (s.size() == 64 ? " with a non-hex digit" : ""));
    keys.sign_seed = SecretSeed{*seed};
  }
  keys.curve.public_z85 = z85_key(root.required("curve_public"));
  const ConfigNode secret = root.required("curve_secret");
  keys.curve.secret_z85 = z85_key(secret);
  char derived[kZ85KeyChars + 1] = {};
  if (zmq_curve_public(derived, keys.curve.secret_z85.c_str()) != 0)
    secret.fail("cannot derive the CURVE public key from this secret");
  if (keys.curve.public_z85 != derived)
    root.required("curve_public")
        .fail("does not belong to curve_secret (the key file is damaged or mixed up)");
  return keys;
}

// ---------------------------------------------------------------- topology

namespace {
// Clinicians acting for a record node's institution: Ed25519 keys in hex.
std::vector<PublicKey> staff_keys(const ConfigNode& n, NodeRole role) {
  if (role != NodeRole::kRecord) n.fail("only record nodes have staff");
  if (!n.is_sequence()) n.fail("expected a list of Ed25519 public keys (64 hex digits each)");
  if (n.size() > kMaxStaffKeys) n.fail("at most " + std::to_string(kMaxStaffKeys) + " staff keys");
  std::vector<PublicKey> keys;
  for (std::size_t i = 0; i < n.size(); ++i) {
    auto key = FixedBytes<32>::parse_hex(n.at(i).as_string());
    if (!key) n.at(i).fail("expected an Ed25519 public key as 64 hex digits");
    keys.push_back(PublicKey{*key});
  }
  return keys;
}
}  // namespace

Deployment load_deployment(const std::string& path) {
  const ConfigNode root = ConfigNode::load_file(path);
  if (!root.is_map()) root.fail("expected a topology file (a map with protocol, networks, nodes)");
  root.allow_only({"protocol", "networks", "nodes"});

  ProtocolParams params;
  if (auto p = root.optional("protocol")) {
    p->allow_only({"presence", "replication", "crypto", "index_order", "block_max_entries",
                   "block_timeout", "presence_timeout", "retry_timeout", "retry_max_backoff",
                   "max_attempts", "migration_settle", "migration_rounds", "max_blob_mb",
                   "pipeline"});
    params.pipeline = p->get_bool("pipeline", params.pipeline);
    if (auto v = p->optional("presence"))
      params.presence = v->as_enum({"broadcast", "table"}) == "table" ? PresenceMode::kTable
                                                                      : PresenceMode::kBroadcast;
    if (auto v = p->optional("replication"))
      params.replication =
          v->as_enum({"sparse", "full"}) == "full" ? Replication::kFull : Replication::kSparse;
    if (auto v = p->optional("crypto"))
      params.crypto =
          v->as_enum({"real", "modeled"}) == "modeled" ? CryptoMode::kModeled : CryptoMode::kReal;
    if (auto v = p->optional("index_order"))
      params.index_order =
          v->as_enum({"chain", "direct"}) == "direct" ? IndexOrder::kDirect : IndexOrder::kChain;
    params.block_max_entries = static_cast<std::size_t>(p->get_int(
        "block_max_entries", static_cast<std::int64_t>(params.block_max_entries), 1, 1'000'000));
    auto duration = [&](std::string_view key, TimeUs& field) {
      if (auto v = p->optional(key)) {
        field = v->as_duration_us();
        if (field <= 0) v->fail("must be greater than zero");
      }
    };
    duration("block_timeout", params.block_timeout_us);
    duration("presence_timeout", params.presence_timeout_us);
    duration("retry_timeout", params.retry_timeout_us);
    duration("retry_max_backoff", params.retry_max_backoff_us);
    duration("migration_settle", params.migration_settle_us);
    params.max_attempts =
        static_cast<std::uint32_t>(p->get_int("max_attempts", params.max_attempts, 1, 1'000'000));
    params.migration_rounds = static_cast<std::uint32_t>(
        p->get_int("migration_rounds", params.migration_rounds, 0, 1'000'000));
    params.max_blob_bytes =
        static_cast<std::uint64_t>(
            p->get_int("max_blob_mb", static_cast<std::int64_t>(params.max_blob_bytes >> 20), 1,
                       kMaxBlobBytesCeiling >> 20))
        << 20;
    if (params.retry_max_backoff_us < params.retry_timeout_us)
      present(*p, "retry_max_backoff", "retry_timeout")
          .fail("retry_max_backoff must not be shorter than retry_timeout");
  }

  constexpr std::int64_t kMaxId = std::numeric_limits<std::uint32_t>::max() - 1;

  // ---- nodes
  const ConfigNode nodes_n = root.required("nodes");
  if (!nodes_n.is_sequence()) nodes_n.fail("expected a sequence of nodes");
  if (nodes_n.size() == 0) nodes_n.fail("the topology has no nodes");
  struct RawNode {
    NodeInfo info;
    NodeAddress address;
    ConfigNode where;
  };
  std::map<std::uint32_t, RawNode> by_id;
  std::map<std::string, NodeId> names, endpoints, curve_keys;
  std::map<PublicKey, NodeId> sign_keys;
  for (std::size_t i = 0; i < nodes_n.size(); ++i) {
    const ConfigNode n = nodes_n.at(i);
    if (!n.is_map()) n.fail("expected a node (a map with id, name, role, network, endpoint, ...)");
    n.allow_only(
        {"id", "name", "role", "network", "endpoint", "sign_key", "curve_key", "staff", "box_key"});
    NodeInfo info;
    const ConfigNode id_n = n.required("id");
    info.id = NodeId{static_cast<std::uint32_t>(id_n.as_int(0, kMaxId))};
    const std::string role = n.required("role").as_enum({"record", "consensus", "index"});
    info.role = role == "record"      ? NodeRole::kRecord
                : role == "consensus" ? NodeRole::kConsensus
                                      : NodeRole::kIndex;
    info.network = NetworkId{static_cast<std::uint32_t>(n.required("network").as_int(0, kMaxId))};
    const ConfigNode name_n = n.required("name");
    info.name = nonempty_string(name_n);
    const ConfigNode sk_n = n.required("sign_key");
    {
      const std::string s = sk_n.as_string();
      auto key = FixedBytes<32>::parse_hex(s);
      if (!key) sk_n.fail("expected an Ed25519 public key as 64 hex digits");
      info.key = PublicKey{*key};
    }
    if (auto staff_n = n.optional("staff")) info.staff = staff_keys(*staff_n, info.role);
    if (auto box_n = n.optional("box_key")) {
      auto key = FixedBytes<32>::parse_hex(box_n->as_string());
      if (!key) box_n->fail("expected an X25519 public key as 64 hex digits");
      info.box_key = X25519Public{*key};
    }
    NodeAddress address;
    const ConfigNode ep_n = n.required("endpoint");
    address.endpoint = endpoint_at(ep_n);
    const ConfigNode ck_n = n.required("curve_key");
    address.curve_z85 = z85_key(ck_n);

    auto unique = [&](auto& seen, const auto& value, const ConfigNode& at, const char* what) {
      auto [it, fresh] = seen.emplace(value, info.id);
      if (!fresh)
        at.fail(std::string("the same ") + what + " as node " + std::to_string(it->second.value));
    };
    if (by_id.count(info.id.value))
      id_n.fail("duplicate node id " + std::to_string(info.id.value) + " (first at line " +
                std::to_string(by_id.at(info.id.value).where.line()) + ")");
    unique(names, info.name, name_n, "name");
    unique(endpoints, address.endpoint, ep_n, "endpoint");
    unique(curve_keys, address.curve_z85, ck_n, "CURVE key");
    unique(sign_keys, info.key, sk_n, "sign key");
    by_id.emplace(info.id.value, RawNode{info, address, n});
  }
  // Dense ids: 0..n-1, in any order in the file.
  for (std::uint32_t expect = 0; expect < by_id.size(); ++expect)
    if (!by_id.count(expect))
      nodes_n.fail("node ids must be dense (0.." + std::to_string(by_id.size() - 1) + "): node " +
                   std::to_string(expect) + " is missing");

  // ---- networks
  const ConfigNode nets_n = root.required("networks");
  if (!nets_n.is_sequence()) nets_n.fail("expected a sequence of networks");
  if (nets_n.size() == 0) nets_n.fail("the topology has no networks");
  std::map<std::uint32_t, std::pair<NetworkInfo, ConfigNode>> nets;
  std::map<std::uint32_t, std::uint32_t> claimed;  // consensus/index node -> network
  for (std::size_t i = 0; i < nets_n.size(); ++i) {
    const ConfigNode n = nets_n.at(i);
    if (!n.is_map()) n.fail("expected a network (a map with id, consensus, index, quorum)");
    n.allow_only({"id", "consensus", "index", "quorum"});
    NetworkInfo net;
    const ConfigNode id_n = n.required("id");
    net.id = NetworkId{static_cast<std::uint32_t>(id_n.as_int(0, kMaxId))};
    if (nets.count(net.id.value))
      id_n.fail("duplicate network id " + std::to_string(net.id.value) + " (first at line " +
                std::to_string(nets.at(net.id.value).second.line()) + ")");

    // A node referenced by this network: exists, has `role`, belongs here,
    // and serves no other network.
    auto member = [&](const ConfigNode& at, NodeRole role) {
      const std::uint32_t id = static_cast<std::uint32_t>(at.as_int(0, kMaxId));
      auto it = by_id.find(id);
      if (it == by_id.end()) at.fail("node " + std::to_string(id) + " is not in the nodes list");
      const NodeInfo& info = it->second.info;
      if (info.role != role)
        at.fail("node " + std::to_string(id) + " ('" + info.name + "') is a " +
                std::string(node_role_name(info.role)) + " node, expected a " +
                std::string(node_role_name(role)) + " node");
      if (info.network != net.id)
        at.fail("node " + std::to_string(id) + " ('" + info.name + "') belongs to network " +
                std::to_string(info.network.value) + ", not to network " +
                std::to_string(net.id.value));
      auto [c, fresh] = claimed.emplace(id, net.id.value);
      if (!fresh) at.fail("node " + std::to_string(id) + " is listed twice");
      return NodeId{id};
    };

    const ConfigNode cons_n = n.required("consensus");
    if (!cons_n.is_sequence() || cons_n.size() == 0)
      cons_n.fail("expected a non-empty list of consensus node ids");
    for (std::size_t k = 0; k < cons_n.size(); ++k) {
      const NodeId c = member(cons_n.at(k), NodeRole::kConsensus);
      net.consensus_nodes.push_back(c);
      net.validators.members.push_back({c, by_id.at(c.value).info.key});
    }
    net.index_node = member(n.required("index"), NodeRole::kIndex);
    net.validators.quorum = static_cast<std::size_t>(
        n.get_int("quorum", 1, 1, static_cast<std::int64_t>(net.consensus_nodes.size())));
    nets.emplace(net.id.value, std::make_pair(std::move(net), n));
  }
  for (std::uint32_t expect = 0; expect < nets.size(); ++expect)
    if (!nets.count(expect))
      nets_n.fail("network ids must be dense (0.." + std::to_string(nets.size() - 1) +
                  "): network " + std::to_string(expect) + " is missing");

  // Every node belongs to a network; every consensus and index node is one
  // that its network lists.
  for (auto& [id, raw] : by_id) {
    auto net = nets.find(raw.info.network.value);
    if (net == nets.end())
      raw.where.required("network").fail("network " + std::to_string(raw.info.network.value) +
                                         " is not in the networks list");
    if (raw.info.role == NodeRole::kRecord) {
      net->second.first.record_nodes.push_back(raw.info.id);
    } else if (!claimed.count(id)) {
      raw.where.required("role").fail(
          std::string(node_role_name(raw.info.role)) + " node " + std::to_string(id) +
          " is not listed by network " + std::to_string(raw.info.network.value) + " (its " +
          (raw.info.role == NodeRole::kIndex ? "index" : "consensus") + " key)");
    }
  }

  std::vector<NodeInfo> node_list;
  Deployment d;
  for (auto& [id, raw] : by_id) {
    node_list.push_back(raw.info);
    d.address.push_back(raw.address);
  }
  std::vector<NetworkInfo> net_list;
  for (auto& [id, net] : nets) net_list.push_back(std::move(net.first));
  d.topology = std::make_shared<const Topology>(std::move(node_list), std::move(net_list), params);
  return d;
}

void write_deployment(const std::string& path, const Topology& topology,
                      const std::vector<NodeAddress>& address) {
  if (address.size() != topology.node_count())
    throw std::runtime_error(path + ": " + std::to_string(address.size()) + " addresses for " +
                             std::to_string(topology.node_count()) + " nodes");
  const ProtocolParams& p = topology.params();
  YAML::Emitter out;
  out << YAML::Comment("MHR chain topology: every node of the deployment, with its public keys.");
  out << YAML::BeginMap;
  out << YAML::Key << "protocol" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "presence" << YAML::Value << std::string(presence_mode_name(p.presence));
  out << YAML::Key << "replication" << YAML::Value << std::string(replication_name(p.replication));
  out << YAML::Key << "crypto" << YAML::Value << std::string(crypto_mode_name(p.crypto));
  out << YAML::Key << "index_order" << YAML::Value << std::string(index_order_name(p.index_order));
  out << YAML::Key << "block_max_entries" << YAML::Value << p.block_max_entries;
  out << YAML::Key << "block_timeout" << YAML::Value << format_duration(p.block_timeout_us);
  out << YAML::Key << "presence_timeout" << YAML::Value << format_duration(p.presence_timeout_us);
  out << YAML::Key << "retry_timeout" << YAML::Value << format_duration(p.retry_timeout_us);
  out << YAML::Key << "retry_max_backoff" << YAML::Value << format_duration(p.retry_max_backoff_us);
  out << YAML::Key << "max_attempts" << YAML::Value << p.max_attempts;
  out << YAML::Key << "migration_settle" << YAML::Value << format_duration(p.migration_settle_us);
  out << YAML::Key << "migration_rounds" << YAML::Value << p.migration_rounds;
  out << YAML::Key << "pipeline" << YAML::Value << p.pipeline;
  out << YAML::Key << "max_blob_mb" << YAML::Value << (p.max_blob_bytes >> 20);
  out << YAML::EndMap;

  out << YAML::Key << "networks" << YAML::Value << YAML::BeginSeq;
  for (const NetworkInfo& n : topology.networks()) {
    out << YAML::BeginMap;
    out << YAML::Key << "id" << YAML::Value << n.id.value;
    out << YAML::Key << "consensus" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (NodeId c : n.consensus_nodes) out << c.value;
    out << YAML::EndSeq;
    out << YAML::Key << "index" << YAML::Value << n.index_node.value;
    out << YAML::Key << "quorum" << YAML::Value << n.validators.quorum;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;

  out << YAML::Key << "nodes" << YAML::Value << YAML::BeginSeq;
  for (const NodeInfo& n : topology.nodes()) {
    const NodeAddress& a = address[n.id.value];
    out << YAML::BeginMap;
    out << YAML::Key << "id" << YAML::Value << n.id.value;
    out << YAML::Key << "name" << YAML::Value << n.name;
    out << YAML::Key << "role" << YAML::Value << std::string(node_role_name(n.role));
    out << YAML::Key << "network" << YAML::Value << n.network.value;
    out << YAML::Key << "endpoint" << YAML::Value << a.endpoint;
    out << YAML::Key << "sign_key" << YAML::Value << n.key.hex();
    out << YAML::Key << "curve_key" << YAML::Value << YAML::DoubleQuoted << a.curve_z85;
    if (!n.box_key.is_zero()) out << YAML::Key << "box_key" << YAML::Value << n.box_key.hex();
    if (!n.staff.empty()) {
      out << YAML::Key << "staff" << YAML::Value << YAML::BeginSeq;
      for (const PublicKey& k : n.staff) out << k.hex();
      out << YAML::EndSeq;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::EndMap;
  write_new_file(path, emit(out), S_IRUSR | S_IWUSR | S_IRGRP | S_IROTH, /*exclusive=*/false);
}

// ---------------------------------------------------------------- node file

NodeConfig load_node_config(const std::string& path) {
  const ConfigNode root = ConfigNode::load_file(path);
  if (!root.is_map()) root.fail("expected a node file (a map with node, topology, ...)");
  // fhir: read by edge_node's FHIR gateway (edge_node/fhir/config.cpp).
  root.allow_only({"node", "topology", "clients", "limits", "storage", "fhir"});
  NodeConfig c;
  c.file = path;

  const ConfigNode node = root.required("node");
  if (!node.is_map()) node.fail("expected a map with id, keys, listen, data_dir");
  node.allow_only({"id", "keys", "listen", "data_dir"});
  c.id = NodeId{static_cast<std::uint32_t>(
      node.required("id").as_int(0, std::numeric_limits<std::uint32_t>::max() - 1))};
  c.key_file = resolve_against(path, nonempty_string(node.required("keys")));
  c.listen = endpoint_at(node.required("listen"));
  c.data_dir = resolve_against(path, nonempty_string(node.required("data_dir")));
  c.topology_file = resolve_against(path, nonempty_string(root.required("topology")));

  if (auto clients = root.optional("clients")) {
    if (!clients->yaml().IsNull()) {
      if (!clients->is_sequence()) clients->fail("expected a list of client CURVE keys (Z85)");
      std::set<std::string> seen;
      for (std::size_t i = 0; i < clients->size(); ++i) {
        const ConfigNode k = clients->at(i);
        std::string key = z85_key(k);
        if (!seen.insert(key).second) k.fail("this client key is listed twice");
        c.client_keys.push_back(std::move(key));
      }
    }
  }

  if (auto limits = root.optional("limits")) {
    limits->allow_only({"max_message_bytes", "send_hwm", "recv_hwm", "heartbeat",
                        "heartbeat_timeout", "reconnect", "reconnect_max", "verify_threads"});
    if (auto v = limits->optional("max_message_bytes")) {
      const std::uint64_t bytes = v->as_size_bytes();
      if (bytes < 1024 || bytes > (std::uint64_t{1} << 32))
        v->fail("expected a size between 1KiB and 4GiB");
      c.max_message_bytes = static_cast<std::size_t>(bytes);
    }
    c.send_hwm = static_cast<int>(limits->get_int("send_hwm", c.send_hwm, 1, 100'000'000));
    c.recv_hwm = static_cast<int>(limits->get_int("recv_hwm", c.recv_hwm, 1, 100'000'000));
    c.verify_threads =
        static_cast<std::uint32_t>(limits->get_int("verify_threads", c.verify_threads, 1, 16));
    // ZeroMQ takes these as int milliseconds.
    constexpr TimeUs kMaxDuration = 24 * 3600 * kUsPerSecond;
    auto duration = [&](std::string_view key, TimeUs& field) {
      if (auto v = limits->optional(key)) {
        field = v->as_duration_us();
        if (field < kUsPerMs || field > kMaxDuration)
          v->fail("expected a duration between 1ms and 24h");
      }
    };
    duration("heartbeat", c.heartbeat_us);
    duration("heartbeat_timeout", c.heartbeat_timeout_us);
    duration("reconnect", c.reconnect_us);
    duration("reconnect_max", c.reconnect_max_us);
    if (c.heartbeat_timeout_us < c.heartbeat_us)
      present(*limits, "heartbeat_timeout", "heartbeat")
          .fail("heartbeat_timeout must not be shorter than heartbeat");
    if (c.reconnect_max_us < c.reconnect_us)
      present(*limits, "reconnect_max", "reconnect")
          .fail("reconnect_max must not be shorter than reconnect");
  }

  if (auto storage = root.optional("storage")) {
    storage->allow_only({"fsync"});
    c.fsync = storage->get_bool("fsync", c.fsync);
  }
  return c;
}

void write_node_config(const std::string& path, const NodeConfig& config) {
  // Paths are written as they are: relative ones are read back relative to
  // the directory of `path`.
  YAML::Emitter out;
  out << YAML::Comment("MHR chain node file");
  out << YAML::BeginMap;
  out << YAML::Key << "node" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "id" << YAML::Value << config.id.value;
  out << YAML::Key << "keys" << YAML::Value << config.key_file;
  out << YAML::Key << "listen" << YAML::Value << config.listen;
  out << YAML::Key << "data_dir" << YAML::Value << config.data_dir;
  out << YAML::EndMap;
  out << YAML::Key << "topology" << YAML::Value << config.topology_file;
  if (!config.client_keys.empty()) {
    out << YAML::Key << "clients" << YAML::Value << YAML::BeginSeq;
    for (const auto& k : config.client_keys) out << YAML::DoubleQuoted << k;
    out << YAML::EndSeq;
  }
  out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "max_message_bytes" << YAML::Value << format_size(config.max_message_bytes);
  out << YAML::Key << "send_hwm" << YAML::Value << config.send_hwm;
  out << YAML::Key << "recv_hwm" << YAML::Value << config.recv_hwm;
  out << YAML::Key << "heartbeat" << YAML::Value << format_duration(config.heartbeat_us);
  out << YAML::Key << "heartbeat_timeout" << YAML::Value
      << format_duration(config.heartbeat_timeout_us);
  out << YAML::Key << "reconnect" << YAML::Value << format_duration(config.reconnect_us);
  out << YAML::Key << "reconnect_max" << YAML::Value << format_duration(config.reconnect_max_us);
  out << YAML::Key << "verify_threads" << YAML::Value << config.verify_threads;
  out << YAML::EndMap;
  out << YAML::Key << "storage" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "fsync" << YAML::Value << config.fsync;
  out << YAML::EndMap;
  out << YAML::EndMap;
  write_new_file(path, emit(out), S_IRUSR | S_IWUSR | S_IRGRP | S_IROTH, /*exclusive=*/false);
}

}  // namespace mhr
