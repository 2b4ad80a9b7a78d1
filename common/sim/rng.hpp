// A small, fast, deterministic PRNG for the simulator: xoshiro256** seeded
// through splitmix64. One seed gives one exact sequence on every run; the
// simulator never touches std::random_device or the clock.
#pragma once

#include <cmath>
#include <cstdint>

namespace mhr {

// splitmix64: a good 64-bit mixer, used to expand seeds and derive streams.
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Mixes two values into one seed (e.g. world seed and node id).
inline std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) {
  std::uint64_t s = a ^ (b * 0xD1B54A32D192ED03ull);
  splitmix64(s);
  return splitmix64(s);
}

// 128-bit product for unbiased bounded draws (a GCC/Clang extension).
__extension__ using Uint128 = unsigned __int128;

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }

  void reseed(std::uint64_t seed) {
    std::uint64_t sm = seed;
    for (auto& w : s_) w = splitmix64(sm);
    has_spare_normal_ = false;
  }

  // xoshiro256** (Blackman & Vigna).
  std::uint64_t next_u64() {
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

  // Uniform in [0, bound); bound 0 gives 0. Lemire's multiply-shift with
  // rejection, so the result is unbiased.
  std::uint64_t uniform_u64(std::uint64_t bound) {
    if (bound == 0) return 0;
    Uint128 m = static_cast<Uint128>(next_u64()) * bound;
    auto low = static_cast<std::uint64_t>(m);
    if (low < bound) {
      const std::uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        m = static_cast<Uint128>(next_u64()) * bound;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }
  // Uniform in [lo, hi] (inclusive); requires lo <= hi.
  std::int64_t uniform_range(std::int64_t lo, std::int64_t hi) {
    const auto span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
    if (span == UINT64_MAX) return static_cast<std::int64_t>(next_u64());
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + uniform_u64(span + 1));
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  // True with probability p; p <= 0 never, p >= 1 always (no draw either way).
  bool bernoulli(double p) {
    if (p <= 0.0) return false;
    if (p >= 1.0) return true;
    return uniform_double() < p;
  }
  // Standard normal (Marsaglia polar method; caches the second value).
  double normal() {
    if (has_spare_normal_) {
      has_spare_normal_ = false;
      return spare_normal_;
    }
    double u, v, s;
    do {
      u = 2.0 * uniform_double() - 1.0;
      v = 2.0 * uniform_double() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double f = std::sqrt(-2.0 * std::log(s) / s);
    spare_normal_ = v * f;
    has_spare_normal_ = true;
    return u * f;
  }
  // Log-normal with the given median (= e^mu) and shape sigma.
  double lognormal(double median, double sigma) { return median * std::exp(sigma * normal()); }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  std::uint64_t s_[4]{};
  double spare_normal_ = 0.0;
  bool has_spare_normal_ = false;
};

}  // namespace mhr
