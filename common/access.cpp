#include "common/access.hpp"

#include <algorithm>

#include "common/identity.hpp"

namespace mhr {

std::string_view standing_name(Standing s) {
  switch (s) {
    case Standing::kNone:
      return "none";
    case Standing::kPatient:
      return "patient";
    case Standing::kStaff:
      return "staff";
    case Standing::kGrantee:
      return "grantee";
  }
  return "unknown";
}

bool is_staff(const NodeInfo& node, const PublicKey& key) {
  return key == node.key ||
         std::find(node.staff.begin(), node.staff.end(), key) != node.staff.end();
}

bool ReadAccess::may_read(const Record& r) const {
  if (standing == Standing::kPatient) return true;
  if (standing == Standing::kNone || is_patient_act(r)) return false;
  if (standing == Standing::kStaff && r.author_node == institution) return true;
  return std::any_of(grants.begin(), grants.end(),
                     [&](const ActiveGrant& g) { return g.grant.scope.covers(r); });
}

ReadAccess read_access(const UserId& user, const PublicKey& requester, const NodeInfo& node,
                       const std::vector<ActiveGrant>& grants_in_force) {
  ReadAccess a;
  a.institution = node.id;
  a.key_holder = requester;
  if (user_id_of(requester) == user) {
    a.standing = Standing::kPatient;
    return a;
  }
  const bool staff = is_staff(node, requester);
  for (const ActiveGrant& g : grants_in_force)
    if (g.grant.grantee == requester || (staff && g.grant.grantee == node.key))
      a.grants.push_back(g);
  if (staff) {
    a.standing = Standing::kStaff;
    a.key_holder = node.key;  // staff decrypt with their institution's key
  } else if (!a.grants.empty()) {
    a.standing = Standing::kGrantee;
  }
  return a;
}

}  // namespace mhr
