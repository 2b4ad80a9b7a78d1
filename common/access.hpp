// Who may read which of a user's records on a record node: the patient all
// of them; the node's institution and its staff what the institution wrote
// plus what a grant to the institution covers; anyone else only what a
// grant in force to them covers. Pure: decided from the node's entry in the
// topology and the user's grants in force.
#pragma once

#include <vector>

#include "common/consent_book.hpp"
#include "common/topology.hpp"

namespace mhr {

enum class Standing : std::uint8_t {
  kNone,     // no standing at all: refused
  kPatient,  // the user's own key
  kStaff,    // the node's institution key or a clinician key listed for it
  kGrantee,  // holds a grant in force
};
std::string_view standing_name(Standing s);

struct ReadAccess {
  Standing standing = Standing::kNone;
  NodeId institution;               // the node asked
  std::vector<ActiveGrant> grants;  // in force, applicable to the requester
  PublicKey key_holder;             // whose sealed keys the requester gets

  bool may_read(const Record& r) const;
};

bool is_staff(const NodeInfo& node, const PublicKey& key);

ReadAccess read_access(const UserId& user, const PublicKey& requester, const NodeInfo& node,
                       const std::vector<ActiveGrant>& grants_in_force);

}  // namespace mhr
