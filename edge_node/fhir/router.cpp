// Method + path -> interaction.
#include "edge_node/fhir/router.hpp"

#include <cctype>

#include "edge_node/fhir/ids.hpp"
#include "edge_node/fhir/resource_types.hpp"

namespace mhr::fhir {

namespace {

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  while (!path.empty()) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

FhirError wrong_method(std::string_view method, std::string_view what, std::string_view allowed) {
  return method_not_allowed(std::string(method) + " is not supported on " + std::string(what) +
                            " (allowed: " + std::string(allowed) + ")");
}

}  // namespace

Result<Route, FhirError> route(std::string_view method, std::string_view path) {
  const auto seg = segments(path);
  if (seg.size() > 4) return err(not_found("no FHIR endpoint at '" + std::string(path) + "'"));
  if (seg.empty()) {
    if (method == "POST") return Route{Transaction{}};
    return err(wrong_method(method, "the base URL", "POST with a transaction or batch Bundle"));
  }
  if (seg[0] == "metadata" && seg.size() == 1) {
    if (method == "GET") return Route{Metadata{}};
    return err(wrong_method(method, "metadata", "GET"));
  }
  const std::string type(seg[0]);
  if (!find_resource_type(type))
    return err(not_found("unknown or unsupported resource type '" + type +
                         "' (GET /fhir/metadata lists the supported types)"));
  if (seg.size() == 1) {
    if (method == "POST") return Route{Create{type}};
    if (method == "GET") return Route{Search{type}};
    return err(wrong_method(method, type, "GET (search), POST (create)"));
  }
  const std::string id(seg[1]);
  if (!valid_id(id))
    return err(bad_request("'" + id + "' is not a FHIR id ([A-Za-z0-9-.], 1 to 64 characters)"));
  if (seg.size() == 2) {
    if (method == "GET") return Route{Read{type, id}};
    if (method == "PUT") return Route{Update{type, id}};
    if (method == "DELETE") return Route{Delete{type, id}};
    return err(wrong_method(method, type + "/" + id, "GET, PUT, DELETE"));
  }
  if (seg[2] == "$everything" && seg.size() == 3) {
    if (type != "Patient") return err(not_found("$everything is defined on Patient only"));
    if (method == "GET") return Route{Everything{id}};
    return err(wrong_method(method, "$everything", "GET"));
  }
  if (seg[2] == "_history") {
    if (method != "GET") return err(wrong_method(method, "_history", "GET"));
    if (seg.size() == 3) return Route{History{type, id}};
    return Route{VRead{type, id, std::string(seg[3])}};
  }
  return err(not_found("no FHIR endpoint at '" + std::string(path) + "'"));
}

std::pair<std::string, Params> split_url(std::string_view url) {
  auto q = url.find('?');
  std::pair<std::string, Params> out{std::string(url.substr(0, q)), {}};
  if (q == std::string_view::npos) return out;
  std::string_view query = url.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    if (!part.empty()) {
      auto eq = part.find('=');
      out.second.emplace_back(url_decode(part.substr(0, eq)),
                              eq == std::string_view::npos ? "" : url_decode(part.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    std::optional<Bytes> escaped;
    if (s[i] == '%' && i + 2 < s.size()) escaped = from_hex(s.substr(i + 1, 2));
    if (s[i] == '+') {
      out += ' ';
    } else if (escaped && escaped->size() == 1) {
      out += static_cast<char>((*escaped)[0]);
      i += 2;
    } else {
      out += s[i];  // a lone '%' stays as it is
    }
  }
  return out;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '/')
      out += ch;
    else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace mhr::fhir
