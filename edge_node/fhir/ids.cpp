// Patient ids, resource ids with their patient inside, version ids.
#include "edge_node/fhir/ids.hpp"

#include <array>
#include <charconv>

#include "common/assert.hpp"

namespace mhr::fhir {

namespace {

constexpr std::string_view kBase32 = "abcdefghijklmnopqrstuvwxyz234567";  // RFC 4648, lower case
constexpr std::size_t kUserChars = 52;                                    // ceil(256 / 5)
constexpr std::size_t kLocalChars = 11;                                   // 55 random bits
static_assert(kUserChars + 1 + kLocalChars == kMaxIdLength);

int base32_value(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

std::string base32(ByteView bytes) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += kBase32[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kBase32[(buffer << (5 - bits)) & 31];
  return out;
}

bool is_lower_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

template <class T>
std::optional<T> parse_number(std::string_view s) {
  T v{};
  if (s.empty() || s.size() > 20) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;  // one spelling per number
  return v;
}

}  // namespace

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '.'))
      return false;
  return true;
}

std::string patient_id(const UserId& user) {
  return user.hex();
}

std::optional<UserId> user_of_patient_id(std::string_view id) {
  // Lower case only: one patient, one id (FHIR ids are case-sensitive).
  if (id.size() != 64 || !is_lower_hex(id)) return std::nullopt;
  return UserId::parse_hex(id);
}

std::string new_resource_id(const UserId& user, std::uint64_t random) {
  std::string id = base32(user.view());
  MHR_ASSERT(id.size() == kUserChars);
  id += '-';
  for (std::size_t i = 0; i < kLocalChars; ++i) id += kBase32[(random >> (5 * i)) & 31];
  MHR_ASSERT(id.size() == kMaxIdLength);
  return id;
}

std::optional<UserId> user_of_resource_id(std::string_view id) {
  if (id.size() != kMaxIdLength || id[kUserChars] != '-') return std::nullopt;
  for (char c : id.substr(kUserChars + 1))
    if (base32_value(c) < 0) return std::nullopt;
  std::array<std::uint8_t, 32> out{};
  std::size_t n = 0;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : id.substr(0, kUserChars)) {
    int v = base32_value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 5) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      MHR_ASSERT(n < out.size());
      out[n++] = static_cast<std::uint8_t>(buffer >> (bits - 8));
      bits -= 8;
    }
  }
  // 52 characters carry 260 bits: the last 4 must be zero, or two ids
  // would name one user.
  if (n != out.size() || (buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return UserId::from_view(out);
}

std::string version_id(ChainPosition p) {
  return std::to_string(p.network) + "." + std::to_string(p.sequence);
}

std::optional<ChainPosition> parse_version_id(std::string_view v) {
  auto dot = v.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto network = parse_number<std::uint32_t>(v.substr(0, dot));
  auto sequence = parse_number<std::uint64_t>(v.substr(dot + 1));
  if (!network || !sequence) return std::nullopt;
  return ChainPosition{*network, *sequence};
}

std::optional<UserId> user_of_patient_reference(std::string_view ref) {
  if (auto h = ref.find("/_history/"); h != std::string_view::npos) ref = ref.substr(0, h);
  std::string_view id;
  if (ref.starts_with("Patient/")) {
    id = ref.substr(8);
  } else if (auto p = ref.rfind("/Patient/");
             p != std::string_view::npos && ref.find("://") != std::string_view::npos) {
    id = ref.substr(p + 9);
  } else {
    return std::nullopt;
  }
  return user_of_patient_id(id);
}

bool is_patient_reference(std::string_view ref) {
  return ref.starts_with("Patient/") || (ref.find("://") != std::string_view::npos &&
                                         ref.find("/Patient/") != std::string_view::npos);
}

}  // namespace mhr::fhir
