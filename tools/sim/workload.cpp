#include "tools/sim/workload.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "common/assert.hpp"
#include "common/crypto.hpp"
#include "common/identity.hpp"
#include "common/key_wrap.hpp"

namespace mhr {

namespace {

std::uint64_t workload_mix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

__extension__ using Uint128 = unsigned __int128;

// xoshiro256**: fast, well distributed and identical on every platform
// (std:: distributions are not), so a seed means the same workload anywhere.
class WorkloadRng {
 public:
  WorkloadRng(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
    for (auto& w : s_) w = workload_mix64(x);
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n); n > 0 (Lemire's method, unbiased).
  std::uint64_t below(std::uint64_t n) {
    MHR_ASSERT(n > 0);
    Uint128 m = static_cast<Uint128>(next()) * n;
    auto low = static_cast<std::uint64_t>(m);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<Uint128>(next()) * n;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }
  // Uniform in [lo, hi].
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  bool chance(double p) { return unit() < p; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

// Independent streams, so that e.g. changing the record rate leaves the
// registrations and migrations of a seed unchanged.
enum Stream : std::uint64_t { kRegistrations = 1, kMigrations = 2, kRecords = 3 };

struct Reg {
  TimeUs at_us;
  NodeId node;
};

class Generator {
 public:
  Generator(const Scenario& s, std::uint64_t seed)
      : w_(s.workload), layout_(s.layout), seed_(seed), regs_(w_.users) {
    std::uint64_t total = 0;
    for (const auto& n : layout_.networks) {
      total += n.record_count;
      cumulative_records_.push_back(total);
    }
    double sum = 0;
    for (double c : w_.category_weights) {
      sum += c;
      cumulative_categories_.push_back(sum);
    }
  }

  std::vector<WorkloadAction> run() {
    const double span_s = static_cast<double>(w_.stop_us - w_.start_us) / 1e6;
    const double expected = w_.record_rate * span_s;
    actions_.reserve(static_cast<std::size_t>(expected + 4 * std::sqrt(expected) + 16) +
                     w_.users * (1 + w_.nodes_per_network) + w_.migration_count +
                     w_.explicit_migrations.size());
    registrations();
    migrations();
    records();
    std::stable_sort(
        actions_.begin(), actions_.end(),
        [](const WorkloadAction& a, const WorkloadAction& b) { return a.at_us < b.at_us; });
    return std::move(actions_);
  }

 private:
  std::uint32_t pick_network(WorkloadRng& rng) const {
    const std::uint64_t r = rng.below(cumulative_records_.back());
    auto it = std::upper_bound(cumulative_records_.begin(), cumulative_records_.end(), r);
    return static_cast<std::uint32_t>(it - cumulative_records_.begin());
  }

  // k distinct record nodes of a network (Floyd's sampling).
  std::vector<NodeId> pick_nodes(WorkloadRng& rng, std::uint32_t net, std::uint32_t k) const {
    const std::uint32_t n = layout_.networks[net].record_count;
    k = std::min(k, n);
    std::vector<std::uint32_t> chosen;
    chosen.reserve(k);
    std::vector<bool> marks;
    const bool use_marks = k > 64;
    if (use_marks) marks.assign(n, false);
    auto has = [&](std::uint32_t v) {
      return use_marks ? static_cast<bool>(marks[v])
                       : std::find(chosen.begin(), chosen.end(), v) != chosen.end();
    };
    auto add = [&](std::uint32_t v) {
      chosen.push_back(v);
      if (use_marks) marks[v] = true;
    };
    for (std::uint32_t j = n - k; j < n; ++j) {
      auto t = static_cast<std::uint32_t>(rng.below(j + 1));
      add(has(t) ? j : t);
    }
    std::vector<NodeId> out;
    out.reserve(k);
    for (auto v : chosen) out.push_back(layout_.record_node(net, v));
    return out;
  }

  void add_registration(std::uint32_t user, NodeId node, TimeUs at, bool migration) {
    regs_[user].push_back(Reg{at, node});
    WorkloadAction a;
    a.kind = WorkloadAction::Kind::kRegister;
    a.at_us = at;
    a.user = user;
    a.node = node;
    a.migration = migration;
    actions_.push_back(a);
  }

  bool registered_at(std::uint32_t user, NodeId node) const {
    for (const Reg& r : regs_[user])
      if (r.node == node) return true;
    return false;
  }

  bool in_network(std::uint32_t user, std::uint32_t net) const {
    for (const Reg& r : regs_[user])
      if (layout_.network_of(r.node).value == net) return true;
    return false;
  }

  void registrations() {
    WorkloadRng rng(seed_, kRegistrations);
    std::vector<const Scenario::PinnedUser*> pinned(w_.users, nullptr);
    for (const auto& p : w_.pinned) pinned[p.user] = &p;
    const std::size_t nets = layout_.network_count();
    for (std::uint32_t u = 0; u < w_.users; ++u) {
      auto when = [&] {
        return static_cast<TimeUs>(
            rng.below(static_cast<std::uint64_t>(w_.registration_window_us)));
      };
      if (pinned[u]) {
        for (NodeId node : pinned[u]->nodes)
          add_registration(u, node, pinned[u]->at_us ? *pinned[u]->at_us : when(), false);
        continue;
      }
      const std::uint32_t home = pick_network(rng);
      for (NodeId node : pick_nodes(rng, home, w_.nodes_per_network))
        add_registration(u, node, when(), false);
      if (nets >= 2 && rng.chance(w_.multi_network_fraction)) {
        std::uint32_t other = home;
        for (int tries = 0; tries < 64 && other == home; ++tries) other = pick_network(rng);
        if (other == home)  // one network dominates: pick among the others evenly
          other = static_cast<std::uint32_t>((home + 1 + rng.below(nets - 1)) % nets);
        for (NodeId node : pick_nodes(rng, other, w_.nodes_per_network))
          add_registration(u, node, when(), false);
      }
    }
  }

  // A record node of network `net` where the user is not registered.
  std::optional<NodeId> free_node_in(WorkloadRng& rng, std::uint32_t user,
                                     std::uint32_t net) const {
    const std::uint32_t n = layout_.networks[net].record_count;
    for (int tries = 0; tries < 64; ++tries) {
      NodeId id = layout_.record_node(net, static_cast<std::uint32_t>(rng.below(n)));
      if (!registered_at(user, id)) return id;
    }
    std::vector<NodeId> free;
    for (std::uint32_t k = 0; k < n; ++k)
      if (!registered_at(user, layout_.record_node(net, k)))
        free.push_back(layout_.record_node(net, k));
    if (free.empty()) return std::nullopt;
    return free[rng.below(free.size())];
  }

  std::optional<NodeId> within_target(WorkloadRng& rng, std::uint32_t user) const {
    std::vector<std::uint32_t> nets;
    for (const Reg& r : regs_[user]) {
      auto net = layout_.network_of(r.node).value;
      if (std::find(nets.begin(), nets.end(), net) == nets.end()) nets.push_back(net);
    }
    if (nets.empty()) return std::nullopt;
    const std::size_t first = rng.below(nets.size());
    for (std::size_t i = 0; i < nets.size(); ++i)
      if (auto id = free_node_in(rng, user, nets[(first + i) % nets.size()])) return id;
    return std::nullopt;
  }

  std::optional<NodeId> across_target(WorkloadRng& rng, std::uint32_t user) const {
    const std::size_t count = layout_.network_count();
    std::optional<std::uint32_t> net;
    for (int tries = 0; tries < 64 && !net; ++tries) {
      auto candidate = static_cast<std::uint32_t>(rng.below(count));
      if (!in_network(user, candidate)) net = candidate;
    }
    if (!net) {
      std::vector<std::uint32_t> others;
      for (std::uint32_t n = 0; n < count; ++n)
        if (!in_network(user, n)) others.push_back(n);
      if (others.empty()) return std::nullopt;
      net = others[rng.below(others.size())];
    }
    return layout_.record_node(
        *net, static_cast<std::uint32_t>(rng.below(layout_.networks[*net].record_count)));
  }

  void migrations() {
    WorkloadRng rng(seed_, kMigrations);
    struct Planned {
      TimeUs at_us;
      std::int64_t explicit_index;  // -1: random
    };
    std::vector<Planned> plan;
    for (std::uint32_t i = 0; i < w_.migration_count; ++i)
      plan.push_back({static_cast<TimeUs>(w_.migration_from_us +
                                          static_cast<TimeUs>(rng.below(static_cast<std::uint64_t>(
                                              w_.migration_to_us - w_.migration_from_us)))),
                      -1});
    for (std::size_t i = 0; i < w_.explicit_migrations.size(); ++i)
      plan.push_back({w_.explicit_migrations[i].at_us, static_cast<std::int64_t>(i)});
    std::stable_sort(plan.begin(), plan.end(),
                     [](const Planned& a, const Planned& b) { return a.at_us < b.at_us; });
    for (const Planned& p : plan) {
      if (p.explicit_index >= 0) {
        const auto& em = w_.explicit_migrations[static_cast<std::size_t>(p.explicit_index)];
        if (!registered_at(em.user, em.to)) add_registration(em.user, em.to, p.at_us, true);
        continue;
      }
      for (int tries = 0; tries < 8; ++tries) {
        const auto user = static_cast<std::uint32_t>(rng.below(w_.users));
        const bool within = rng.chance(w_.migration_within_fraction);
        auto target = within ? within_target(rng, user) : across_target(rng, user);
        if (!target) target = within ? across_target(rng, user) : within_target(rng, user);
        if (target) {
          add_registration(user, *target, p.at_us, true);
          break;
        }
      }
    }
  }

  // A node where the user is registered at `t`, preferring those registered
  // at least kRegistrationSettleUs earlier.
  std::optional<NodeId> submit_node(WorkloadRng& rng, std::uint32_t user, TimeUs t) const {
    const auto& regs = regs_[user];
    std::size_t settled = 0;
    std::size_t present = 0;
    for (const Reg& r : regs) {
      if (r.at_us + kRegistrationSettleUs <= t) ++settled;
      if (r.at_us <= t) ++present;
    }
    if (present == 0) return std::nullopt;
    const bool use_settled = settled > 0;
    std::size_t pick = rng.below(use_settled ? settled : present);
    for (const Reg& r : regs) {
      const bool ok = use_settled ? r.at_us + kRegistrationSettleUs <= t : r.at_us <= t;
      if (ok && pick-- == 0) return r.node;
    }
    return std::nullopt;
  }

  Category pick_category(WorkloadRng& rng) const {
    const double c = rng.unit() * cumulative_categories_.back();
    std::size_t last = 0;
    for (std::size_t i = 0; i < cumulative_categories_.size(); ++i) {
      if (w_.category_weights[i] <= 0) continue;  // never a zero-weight category
      if (c < cumulative_categories_[i]) return static_cast<Category>(i);
      last = i;
    }
    return static_cast<Category>(last);
  }

  void records() {
    WorkloadRng rng(seed_, kRecords);
    const double mean_gap_us = 1e6 / w_.record_rate;
    double t = static_cast<double>(w_.start_us);
    const auto ct_count = static_cast<std::uint64_t>(w_.content_types.size());
    for (;;) {
      t += -std::log1p(-rng.unit()) * mean_gap_us;  // exponential gaps: Poisson arrivals
      const auto at = static_cast<TimeUs>(t);
      if (at >= w_.stop_us) break;
      for (int tries = 0; tries < 8; ++tries) {
        const auto user = static_cast<std::uint32_t>(rng.below(w_.users));
        auto node = submit_node(rng, user, at);
        if (!node) continue;
        WorkloadAction a;
        a.kind = WorkloadAction::Kind::kSubmit;
        a.at_us = at;
        a.user = user;
        a.node = *node;
        a.payload_bytes = static_cast<std::uint32_t>(rng.between(w_.payload_min, w_.payload_max));
        a.content_type = static_cast<std::uint16_t>(rng.below(ct_count));
        a.category = pick_category(rng);
        actions_.push_back(a);
        break;
      }
    }
  }

  const Scenario::Workload& w_;
  const TopologyLayout& layout_;
  std::uint64_t seed_;
  std::vector<std::vector<Reg>> regs_;
  std::vector<std::uint64_t> cumulative_records_;
  std::vector<double> cumulative_categories_;
  std::vector<WorkloadAction> actions_;
};

}  // namespace

SecretSeed patient_seed(std::string_view label) {
  const std::string text = "mhr-patient-" + std::string(label);
  return SecretSeed{sha256(as_bytes(text))};
}

std::unique_ptr<Signer> patient_signer(std::uint32_t index, CryptoMode mode) {
  return make_signer(mode, patient_seed(std::to_string(index)));
}

UserId user_id(std::uint32_t index, CryptoMode mode) {
  return user_id_of(patient_signer(index, mode)->public_key());
}

std::vector<WorkloadAction> generate_workload(const Scenario& s, std::uint64_t seed) {
  MHR_ASSERT(s.workload.users > 0 && s.layout.network_count() > 0);
  return Generator(s, seed).run();
}

WorkloadStats summarize_workload(const Scenario& s, const std::vector<WorkloadAction>& actions) {
  WorkloadStats st;
  constexpr std::uint32_t kNone = 0xFFFFFFFFu;
  std::vector<std::uint32_t> first_net(s.workload.users, kNone);
  std::vector<bool> multi(s.workload.users, false);
  for (const auto& a : actions) {
    if (a.kind == WorkloadAction::Kind::kSubmit) {
      ++st.submissions;
      continue;
    }
    if (a.migration) {
      ++st.migrations;
      continue;
    }
    ++st.registrations;
    const std::uint32_t net = s.layout.network_of(a.node).value;
    if (first_net[a.user] == kNone) {
      first_net[a.user] = net;
      ++st.users_registered;
    } else if (first_net[a.user] != net && !multi[a.user]) {
      multi[a.user] = true;
      ++st.multi_network_users;
    }
  }
  return st;
}

SharedBytes workload_payload(std::uint32_t bytes, std::uint64_t salt) {
  // Framed like a sealed payload (the filler stands in for ciphertext).
  Bytes b(std::max<std::size_t>(bytes, kSealedPayloadOverheadBytes));
  const ByteView magic = as_bytes(kSealedPayloadMagic);
  // Eight bytes per step: a million records' filler is a gigabyte.
  std::uint64_t x = salt * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t at = magic.size(); at < b.size(); at += sizeof x) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(b.data() + at, &x, std::min(sizeof x, b.size() - at));
  }
  std::copy(magic.begin(), magic.end(), b.begin());
  return SharedBytes(std::move(b));
}

}  // namespace mhr
