#include "tools/mhr/client_commands.hpp"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>

#include "common/crypto.hpp"
#include "common/net/zmq_runtime.hpp"

namespace mhr {

namespace {

constexpr TimeUs kCallTimeoutUs = 30 * kUsPerSecond;

struct ClientArgs {
  std::string topology;
  std::string client_key;
  std::string node;
  std::string user;
  std::string type = "Observation";
  std::string category = "medical";
  std::string data_file;
  std::string text;
  bool json = false;
};

// A user is named by 64 hex digits (its id) or by a label, hashed as the
// simulator names its users ("7" is the same patient as user 7 there).
UserId parse_user(const std::string& s) {
  if (auto id = UserId::parse_hex(s)) return *id;
  return UserId{sha256(as_bytes("mhr-user-" + s))};
}

NodeId find_node(const Deployment& d, const std::string& name) {
  for (const NodeInfo& n : d.topology->nodes())
    if (n.name == name || std::to_string(n.id.value) == name) {
      if (n.role != NodeRole::kRecord)
        throw std::runtime_error("'" + name + "' is a " + std::string(node_role_name(n.role)) +
                                 " node; clients talk to record nodes");
      return n.id;
    }
  throw std::runtime_error("no node '" + name + "' in the topology");
}

ClientReply call(const ClientArgs& a, const ClientRequest& request) {
  Deployment d = load_deployment(a.topology);
  NodeKeys keys = load_key_file(a.client_key);
  NodeId node = find_node(d, a.node);
  ZmqClient client(d.address[node.value].endpoint, d.address[node.value].curve_z85, keys.curve);
  return client.call(request, kCallTimeoutUs);
}

int report(const ClientReply& r) {
  const char* status = r.status == ReplyStatus::kOk         ? "ok"
                       : r.status == ReplyStatus::kRejected ? "rejected"
                                                            : "unavailable";
  std::printf("%s", status);
  if (!r.detail.empty()) std::printf(": %s", r.detail.c_str());
  if (r.entry_hash) std::printf(" (%s)", r.entry_hash->hex().c_str());
  std::printf("\n");
  return r.status == ReplyStatus::kOk ? 0 : 1;
}

SharedBytes payload_of(const ClientArgs& a) {
  if (!a.data_file.empty()) {
    std::ifstream in(a.data_file, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + a.data_file);
    return SharedBytes(Bytes(std::istreambuf_iterator<char>(in), {}));
  }
  return SharedBytes(as_bytes(a.text));
}

void print_records(const ClientReply& r, bool json) {
  for (const Record& rec : r.records) {
    std::string body(rec.payload.view().begin(), rec.payload.view().end());
    if (json) {
      std::printf(
          "{\"hash\":\"%s\",\"network\":%u,\"sequence\":%llu,\"type\":\"%s\",\"category\":\"%s\"}"
          "\n",
          record_hash(rec).hex().c_str(), rec.network.value,
          static_cast<unsigned long long>(rec.sequence), rec.content_type.c_str(),
          std::string(category_name(rec.category)).c_str());
    } else {
      std::printf("%s  net%u #%llu  %-18s %-10s %zu bytes\n", record_hash(rec).short_hex().c_str(),
                  rec.network.value, static_cast<unsigned long long>(rec.sequence),
                  rec.content_type.c_str(), std::string(category_name(rec.category)).c_str(),
                  rec.payload.size());
    }
  }
}

CLI::App* add_common(CLI::App& app, const char* name, const char* what, ClientArgs& a) {
  CLI::App* cmd = app.add_subcommand(name, what);
  cmd->add_option("--topology", a.topology, "the deployment's topology file")->required();
  cmd->add_option("--client-key", a.client_key,
                  "this client's key file (its CURVE key must be "
                  "registered at the node)")
      ->required();
  cmd->add_option("--node", a.node, "record node name (e.g. net0.r1) or id")->required();
  cmd->add_option("--user", a.user, "patient: 64 hex digits, or a label")->required();
  return cmd;
}

// Runs a command body, turning failures into a message and exit code 1.
template <class F>
void guarded(const char* name, F body) {
  int rc = 0;
  try {
    rc = body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mhr %s: %s\n", name, e.what());
    rc = 1;
  }
  if (rc != 0) throw CLI::RuntimeError(rc);
}

}  // namespace

void add_client_commands(CLI::App& app) {
  auto a = std::make_shared<ClientArgs>();

  CLI::App* reg = add_common(app, "register", "register a patient at a record node", *a);
  reg->callback([a] {
    guarded("register", [&] { return report(call(*a, RegisterUserRequest{parse_user(a->user)})); });
  });

  CLI::App* sub =
      add_common(app, "submit", "create a record for a patient registered at the node", *a);
  sub->add_option("--type", a->type, "content type, e.g. a FHIR resource type");
  sub->add_option("--category", a->category, "medical, billing, insurance or administrative");
  sub->add_option("--data", a->data_file, "file with the payload");
  sub->add_option("--text", a->text, "the payload as text");
  sub->callback([a] {
    guarded("submit", [&] {
      auto category = parse_category(a->category);
      if (!category) throw std::runtime_error("unknown category '" + a->category + "'");
      return report(call(*a, SubmitRecordRequest{parse_user(a->user), a->type, *category,
                                                 payload_of(*a), std::nullopt, std::nullopt}));
    });
  });

  CLI::App* read = add_common(app, "read", "list a patient's records held by the node", *a);
  read->add_flag("--json", a->json, "one JSON object per record");
  read->callback([a] {
    guarded("read", [&] {
      ClientReply r = call(*a, ReadUserRequest{parse_user(a->user)});
      if (r.status != ReplyStatus::kOk) return report(r);
      print_records(r, a->json);
      return 0;
    });
  });
}

}  // namespace mhr
