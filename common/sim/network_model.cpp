#include "common/sim/network_model.hpp"

#include <algorithm>
#include <cmath>

#include "common/assert.hpp"

namespace mhr {

LatencyDist LatencyDist::constant(TimeUs us) {
  LatencyDist d;
  d.kind = Kind::kConstant;
  d.constant_us = us;
  return d;
}

LatencyDist LatencyDist::uniform(TimeUs min_us, TimeUs max_us) {
  LatencyDist d;
  d.kind = Kind::kUniform;
  d.min_us = min_us;
  d.max_us = max_us;
  return d;
}

LatencyDist LatencyDist::lognormal(TimeUs median_us, double sigma, TimeUs floor_us) {
  LatencyDist d;
  d.kind = Kind::kLognormal;
  d.median_us = median_us;
  d.sigma = sigma;
  d.floor_us = floor_us;
  return d;
}

TimeUs LatencyDist::sample(Rng& rng) const {
  switch (kind) {
    case Kind::kConstant:
      return constant_us < 0 ? 0 : constant_us;
    case Kind::kUniform: {
      MHR_ASSERT_MSG(min_us <= max_us, "uniform latency needs min_us <= max_us");
      const TimeUs v = rng.uniform_range(min_us, max_us);
      return v < 0 ? 0 : v;
    }
    case Kind::kLognormal: {
      if (sigma <= 0) return std::max<TimeUs>({median_us, floor_us, 0});
      const double v = rng.lognormal(static_cast<double>(median_us), sigma);
      const TimeUs drawn = v <= 0 ? 0 : static_cast<TimeUs>(std::llround(v));
      return std::max<TimeUs>(drawn, floor_us);
    }
  }
  MHR_ASSERT_MSG(false, "unknown latency distribution");
}

TimeUs LatencyDist::lower_bound_us() const {
  switch (kind) {
    case Kind::kConstant:
      return std::max<TimeUs>(constant_us, 0);
    case Kind::kUniform:
      return std::max<TimeUs>(min_us, 0);
    case Kind::kLognormal:
      return std::max<TimeUs>(sigma <= 0 ? std::max(median_us, floor_us) : floor_us, 0);
  }
  MHR_ASSERT_MSG(false, "unknown latency distribution");
}

TimeUs LinkClass::serialisation_us(std::size_t bytes) const {
  if (bandwidth_bytes_per_s <= 0) return 0;
  return static_cast<TimeUs>(
      std::llround(static_cast<double>(bytes) * 1e6 / bandwidth_bytes_per_s));
}

}  // namespace mhr
