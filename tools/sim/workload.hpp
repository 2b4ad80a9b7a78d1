// The workload of a scenario: user registrations, migrations and record
// submissions, generated deterministically from (scenario, seed) and sorted
// by time. The simulator replays the list; nothing in it depends on how the
// protocol behaves.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "common/record.hpp"
#include "common/signer.hpp"
#include "common/types.hpp"
#include "tools/sim/scenario.hpp"

namespace mhr {

struct WorkloadAction {
  enum class Kind : std::uint8_t {
    kRegister,  // register `user` at record node `node`
    kSubmit,    // `node` creates a record for `user`
  };
  TimeUs at_us = 0;
  std::uint32_t user = 0;           // index; see user_id()
  NodeId node;                      // a record node
  std::uint32_t payload_bytes = 0;  // kSubmit only
  Kind kind = Kind::kSubmit;
  // kRegister only: the user was already registered elsewhere, so this
  // registration is a migration (its history moves to `node`).
  bool migration = false;
  std::uint16_t content_type = 0;  // index into scenario.workload.content_types
  Category category = Category::kMedical;

  bool operator==(const WorkloadAction&) const = default;
};
static_assert(sizeof(WorkloadAction) <= 32, "a million actions must stay small");

// A submission goes only to a node where the user has been registered for at
// least this long (if it has any such node).
inline constexpr TimeUs kRegistrationSettleUs = 2 * kUsPerSecond;

// A patient named by a label (a workload's user index, or a label given to
// the CLI) has a key derived from the label alone: for simulations, demos
// and tests only, never for real patients.
SecretSeed patient_seed(std::string_view label);
std::unique_ptr<Signer> patient_signer(std::uint32_t index, CryptoMode mode);
// A user's id depends only on its index and the crypto mode (it is the hash
// of the patient's key), so runs with different seeds name the same users.
UserId user_id(std::uint32_t index, CryptoMode mode);

// The payload of a submitted record: deterministic filler of the given size
// (at least a sealed payload's overhead), framed like a sealed payload: what
// a record carries matters to sizes and hashes only.
SharedBytes workload_payload(std::uint32_t bytes, std::uint64_t salt);

// Sorted by at_us (stable: at equal times registrations come first).
std::vector<WorkloadAction> generate_workload(const Scenario& s, std::uint64_t seed);

struct WorkloadStats {
  std::uint64_t registrations = 0;  // initial ones, not migrations
  std::uint64_t migrations = 0;
  std::uint64_t submissions = 0;
  std::uint32_t users_registered = 0;
  std::uint32_t multi_network_users = 0;  // initially registered in 2+ networks
};
WorkloadStats summarize_workload(const Scenario& s, const std::vector<WorkloadAction>& actions);

}  // namespace mhr
