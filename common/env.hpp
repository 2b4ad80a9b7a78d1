// The environment interface: the only way role logic acts on the world.
// A role is a deterministic state machine; it reacts to start, messages,
// timers and client requests, and acts through Env. Two runtimes implement
// Env: the simulator (simulated time, modeled network and CPU) and the
// ZeroMQ runtime (real sockets, LMDB). Role logic never touches sockets,
// threads, files or the wall clock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/client_api.hpp"
#include "common/crypto.hpp"
#include "common/messages.hpp"
#include "common/store.hpp"
#include "common/types.hpp"

namespace mhr {

using TimerId = std::uint64_t;

enum class LogLevel : std::uint8_t { kDebug, kInfo, kWarn, kError };
std::string_view log_level_name(LogLevel level);

// Protocol events a runtime counts for reports. Message counts by type are
// kept by the runtime itself.
enum class Counter : std::uint8_t {
  kRecordsStored,        // a holder stored a record (own network or foreign)
  kRecordsForwarded,     // an index node forwarded a record to another network
  kRecordsRejected,      // a consensus node refused a record
  kVerifyFailures,       // something received failed verification
  kRetries,              // a request sent again after a time-out
  kGaveUp,               // a request abandoned after max_attempts
  kBlocksCommitted,      // a consensus node signed a block
  kMigrationsCompleted,  // a record node finished a user's history sync
  kRecordsMigrated,      // records received through migration
  kAccessRefused,        // a client request refused: bad credential, replay, no consent
  kBlobsFetched,         // a holder completed an off-chain object it fetched from another
  kBlocksPipelined,      // a group's leader proposed a block while the one below committed
  kCount_
};
inline constexpr std::size_t kCounterCount = static_cast<std::size_t>(Counter::kCount_);
std::string_view counter_name(Counter c);

class Env {
 public:
  virtual ~Env() = default;

  virtual NodeId self() const = 0;
  virtual TimeUs now_us() const = 0;
  virtual void send(NodeId to, MessagePtr message) = 0;
  // Fires on_timer(id, tag) after delay_us unless cancelled.
  virtual TimerId set_timer(TimeUs delay_us, std::uint64_t tag) = 0;
  virtual void cancel_timer(TimerId id) = 0;
  virtual Store& store() = 0;
  virtual std::uint64_t random_u64() = 0;
  // This node's signing key, and the verifier of the deployment's scheme.
  virtual const Signer& signer() const = 0;
  virtual const Verifier& verifier() const = 0;
  virtual void reply(ClientRequestId id, ClientReply reply) = 0;
  virtual void count(Counter c, std::int64_t delta = 1) = 0;
  virtual void log(LogLevel level, std::string_view text) = 0;
};

// A role's state machine. start() runs at boot and after every restart and
// must rebuild volatile state from env.store().
class NodeLogic {
 public:
  virtual ~NodeLogic() = default;
  virtual void start() = 0;
  virtual void on_message(NodeId from, const Message& message) = 0;
  virtual void on_timer(TimerId id, std::uint64_t tag) = 0;
  virtual void on_client(ClientRequestId id, const ClientRequest& request) = 0;
  // What the node still has to do (records waiting to commit, deliveries not
  // yet acknowledged, ...), in a few words; empty when it is idle. Runs ask
  // it before they stop, so nothing in flight is mistaken for lost.
  virtual std::string work_in_flight() const = 0;
  // Makes, through `recorder`, the signature checks the role will make of a
  // message only it can read (a consensus group's block bodies), so that a
  // runtime can make them ahead, across cores. Changes nothing.
  virtual void note_signature_checks(NodeId from, const Message& message,
                                     const Verifier& recorder) const {
    (void)from, (void)message, (void)recorder;
  }
};

}  // namespace mhr
