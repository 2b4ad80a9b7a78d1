// The gateway's calls to its record node: the one place that builds client
// requests, and so the one place issue 5's signing and encryption go.
#include "edge_node/fhir/node_backend.hpp"

#include <map>

#include "common/net/zmq_runtime.hpp"

namespace mhr::fhir {

namespace {

constexpr TimeUs kPollUs = 100 * kUsPerMs;  // how often a wait looks at `stopping`

BackendStatus status_of(ReplyStatus s) {
  switch (s) {
    case ReplyStatus::kOk:
      return BackendStatus::kOk;
    case ReplyStatus::kRejected:
      return BackendStatus::kRejected;
    case ReplyStatus::kUnavailable:
      return BackendStatus::kUnavailable;
  }
  return BackendStatus::kUnavailable;
}

BackendReply reply_of(const ClientReply& r) {
  return {status_of(r.status), r.detail, r.entry_hash};
}

// Issue 5 seam: the record as the node will store it. Today the payload
// goes as it is; with encryption it is sealed here under the patient's data
// key, wrapped for `who`'s institution.
SubmitRecordRequest seal(const Identity& /*who*/, const NewRecord& r) {
  return {r.user,       r.content_type, r.category, SharedBytes(as_bytes(r.payload)),
          std::nullopt, r.supersedes};
}

// Issue 5 seam: a stored record as the gateway reads it. With encryption
// the payload is opened here with the data key wrapped for `who`.
ChainRecord open(const Identity& /*who*/, const Record& r) {
  ChainRecord c;
  c.hash = record_hash(r);
  c.network = r.network.value;
  c.sequence = r.sequence;
  c.created_at_us = r.created_at_us;
  c.content_type = r.content_type;
  c.category = r.category;
  c.payload.assign(r.payload.view().begin(), r.payload.view().end());
  c.supersedes = r.supersedes;
  return c;
}

}  // namespace

NodeBackend::NodeBackend(std::string endpoint, std::string node_curve_z85, CurveKeyPair client_keys,
                         const std::atomic<bool>& stopping, TimeUs timeout_us)
    : endpoint_(std::move(endpoint)),
      node_curve_z85_(std::move(node_curve_z85)),
      client_keys_(std::move(client_keys)),
      stopping_(stopping),
      timeout_us_(timeout_us) {
  MHR_ASSERT(timeout_us_ > 0);
}

NodeBackend::~NodeBackend() = default;

std::unique_ptr<ZmqClient> NodeBackend::lease() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return std::make_unique<ZmqClient>(endpoint_, node_curve_z85_, client_keys_);
}

void NodeBackend::give_back(std::unique_ptr<ZmqClient> client) {
  std::lock_guard lock(mutex_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(client));
}

// Issue 5 seam: requests leave here. When the node wants each request
// signed by its requester, sign it here as `who` (the API key's clinician
// or institution key, registered through this node).
std::vector<ClientReply> NodeBackend::exchange(const Identity& /*who*/,
                                               std::vector<ClientRequest> requests) {
  std::vector<ClientReply> replies(
      requests.size(),
      ClientReply{ReplyStatus::kUnavailable, "no reply from the record node", {}, {}});
  if (requests.empty()) return replies;
  std::unique_ptr<ZmqClient> client = lease();
  std::map<ClientRequestId, std::size_t> in_flight;
  std::size_t next = 0;
  std::size_t answered = 0;
  TimeUs silent_us = 0;
  bool healthy = true;
  while (answered < requests.size()) {
    while (next < requests.size() && in_flight.size() < kWindow) {
      try {
        in_flight.emplace(client->send(requests[next]), next);
      } catch (const std::exception& e) {
        replies[next].detail = e.what();
        ++answered;
      }
      ++next;
    }
    if (in_flight.empty()) continue;
    if (stopping_.load(std::memory_order_relaxed)) {
      for (auto& [id, i] : in_flight) replies[i].detail = "the node is shutting down";
      healthy = false;
      break;
    }
    ClientRequestId id = 0;
    ClientReply reply;
    if (!client->receive(id, reply, kPollUs)) {
      silent_us += kPollUs;
      if (silent_us >= timeout_us_) {
        healthy = false;  // late replies may still come: do not reuse this connection
        break;
      }
      continue;
    }
    silent_us = 0;
    auto it = in_flight.find(id);
    if (it == in_flight.end()) continue;  // a stray reply
    replies[it->second] = std::move(reply);
    in_flight.erase(it);
    ++answered;
  }
  if (healthy) give_back(std::move(client));
  return replies;
}

std::vector<BackendReply> NodeBackend::register_patients(const Identity& who,
                                                         std::span<const UserId> users) {
  std::vector<ClientRequest> requests;
  for (const UserId& u : users) requests.emplace_back(RegisterUserRequest{u});
  std::vector<BackendReply> out;
  for (const ClientReply& r : exchange(who, std::move(requests))) out.push_back(reply_of(r));
  return out;
}

std::vector<BackendReply> NodeBackend::submit(const Identity& who,
                                              std::span<const NewRecord> records) {
  std::vector<ClientRequest> requests;
  for (const NewRecord& r : records) requests.emplace_back(seal(who, r));
  std::vector<BackendReply> out;
  for (const ClientReply& r : exchange(who, std::move(requests))) out.push_back(reply_of(r));
  return out;
}

BackendRead NodeBackend::read(const Identity& who, const UserId& user) {
  std::vector<ClientRequest> requests{ReadUserRequest{user}};
  ClientReply r = std::move(exchange(who, std::move(requests))[0]);
  BackendRead out{status_of(r.status), r.detail, {}};
  for (const Record& rec : r.records) out.records.push_back(open(who, rec));
  return out;
}

}  // namespace mhr::fhir
