// Logical ids: a Patient's id is its UserId, other ids carry their
// patient, version ids are chain positions.
#include <doctest/doctest.h>

#include "common/crypto.hpp"
#include "edge_node/fhir/ids.hpp"

using namespace mhr;
using namespace mhr::fhir;

TEST_CASE("a resource id names its patient and is a valid FHIR id") {
  for (int i = 0; i < 200; ++i) {
    UserId u{sha256(as_bytes("user" + std::to_string(i)))};
    std::string id = new_resource_id(u, 0x0123456789abcdefull * (i + 1));
    CHECK(id.size() == 64);
    CHECK(valid_id(id));
    REQUIRE(user_of_resource_id(id));
    CHECK(*user_of_resource_id(id) == u);
    CHECK_FALSE(user_of_patient_id(id));
  }
  UserId u{sha256(as_bytes("x"))};
  CHECK(new_resource_id(u, 1) != new_resource_id(u, 2));
}

TEST_CASE("malformed resource ids name nobody") {
  UserId u{sha256(as_bytes("y"))};
  std::string id = new_resource_id(u, 7);
  CHECK_FALSE(user_of_resource_id(id.substr(1)));
  std::string upper = id;
  upper[0] = 'A';
  CHECK_FALSE(user_of_resource_id(upper));
  std::string no_dash = id;
  no_dash[52] = 'a';
  CHECK_FALSE(user_of_resource_id(no_dash));
  // The 52nd character carries 4 padding bits that must be zero.
  std::string padded = id;
  padded[51] = padded[51] == 'b' ? 'c' : 'b';
  CHECK_FALSE(user_of_resource_id(padded));
  CHECK_FALSE(user_of_resource_id("123"));
}

TEST_CASE("patient ids are the UserId in lower-case hex") {
  UserId u{sha256(as_bytes("patient"))};
  CHECK(patient_id(u) == u.hex());
  CHECK(user_of_patient_id(u.hex()) == u);
  std::string upper = u.hex();
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  CHECK_FALSE(user_of_patient_id(upper));
  CHECK_FALSE(user_of_patient_id("alice"));
  CHECK(user_of_patient_reference("Patient/" + u.hex()) == u);
  CHECK(user_of_patient_reference("https://h.example/fhir/Patient/" + u.hex()) == u);
  CHECK(user_of_patient_reference("Patient/" + u.hex() + "/_history/0.3") == u);
  CHECK_FALSE(user_of_patient_reference("Group/" + u.hex()));
  CHECK_FALSE(user_of_patient_reference("urn:uuid:1234"));
  CHECK(is_patient_reference("Patient/x"));
  CHECK_FALSE(is_patient_reference("Practitioner/x"));
}

TEST_CASE("version ids are <network>.<sequence>") {
  CHECK(version_id({0, 17}) == "0.17");
  CHECK(parse_version_id("3.0") == ChainPosition{3, 0});
  CHECK(parse_version_id("0.18446744073709551615") == ChainPosition{0, ~0ull});
  CHECK_FALSE(parse_version_id("17"));
  CHECK_FALSE(parse_version_id("0.01"));
  CHECK_FALSE(parse_version_id("a.1"));
  CHECK_FALSE(parse_version_id("0.1x"));
}

TEST_CASE("FHIR id syntax") {
  CHECK(valid_id("abc-DEF.123"));
  CHECK_FALSE(valid_id(""));
  CHECK_FALSE(valid_id(std::string(65, 'a')));
  CHECK_FALSE(valid_id("a_b"));
  CHECK_FALSE(valid_id("a/b"));
}
