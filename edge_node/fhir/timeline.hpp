// A patient's records read as FHIR resources: every version of every
// resource, which version is current, in chain order. Built from one read
// of the patient's records; records that are not FHIR resources of this
// gateway (e.g. written with `mhr submit --text`) are left out.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "edge_node/fhir/backend.hpp"
#include "edge_node/fhir/outcome.hpp"

namespace mhr::fhir {

struct Version {
  ChainRecord record;
  Json resource;  // as stored (without server meta)
};

// All versions of one resource, oldest first; the last is the current one.
struct ResourceHistory {
  std::string type;
  std::string id;
  std::vector<Version> versions;
  const Version& current() const { return versions.back(); }
};

class Timeline {
 public:
  explicit Timeline(std::vector<ChainRecord> records);
  Timeline(const Timeline&) = delete;  // order_ points into by_key_
  Timeline& operator=(const Timeline&) = delete;
  Timeline(Timeline&&) = default;
  Timeline& operator=(Timeline&&) = default;

  const ResourceHistory* find(std::string_view type, std::string_view id) const;
  // Current versions of every resource, in the order their first versions
  // were written (creation time, then chain position).
  const std::vector<const ResourceHistory*>& resources() const { return order_; }

 private:
  std::map<std::string, ResourceHistory, std::less<>> by_key_;  // "Type/id"
  std::vector<const ResourceHistory*> order_;
};

}  // namespace mhr::fhir
